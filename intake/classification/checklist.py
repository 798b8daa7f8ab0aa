"""The campaign checklist (对照检查清单) as data, and the wording-similarity index over it."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from .text import Featurizer, tfidf

__all__ = ["Checklist", "ChecklistEntry", "ChecklistIndex"]


@dataclass(frozen=True)
class ChecklistEntry:
    number: int
    text: str
    group: str
    category: str
    keywords: tuple[str, ...] = ()


@dataclass
class Checklist:
    entries: dict[int, ChecklistEntry] = field(default_factory=dict)
    category_names: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Checklist:
        entries: dict[int, ChecklistEntry] = {}
        names: list[str] = []
        for cat in data.get("categories") or []:
            name = str(cat.get("name") or cat.get("heading") or "")
            names.append(name)
            for group in cat.get("groups") or []:
                title = str(group.get("title") or "")
                for item in group.get("items") or []:
                    number = int(item["number"])
                    entries[number] = ChecklistEntry(
                        number=number,
                        text=str(item.get("text") or ""),
                        group=title,
                        category=name,
                        keywords=tuple(str(k) for k in item.get("keywords") or ()),
                    )
        return cls(entries=dict(sorted(entries.items())), category_names=names)

    @classmethod
    def load(cls, path: Path) -> Checklist:
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(yaml.safe_load(fh) or {})

    @property
    def numbers(self) -> list[int]:
        return list(self.entries)

    def category_of(self, number: int | None) -> str | None:
        entry = self.entries.get(number) if number is not None else None
        return entry.category if entry else None

    def document(self, number: int, extra: tuple[str, ...] = ()) -> str:
        """The item's own wording: text, group title, keywords and lexicon paraphrases."""
        e = self.entries[number]
        return "。".join([e.text, e.group, "，".join(e.keywords), "，".join(extra)])


class ChecklistIndex:
    """Cosine similarity of a report to each item's wording, plus explicit cue hits.

    Needs no training data, so a new campaign gets a baseline from its checklist.
    """

    def __init__(
        self,
        checklist: Checklist,
        featurizer: Featurizer,
        item_cues: dict[int, list[str]] | None = None,
    ) -> None:
        self.numbers = checklist.numbers
        item_cues = item_cues or {}
        docs = [
            featurizer.counts(checklist.document(n, tuple(item_cues.get(n, ()))))
            for n in self.numbers
        ]
        df: Counter[str] = Counter()
        for d in docs:
            df.update(d.keys())
        self.vocab = {f: i for i, f in enumerate(sorted(df))}
        n = len(docs)
        self.idf = [0.0] * len(self.vocab)
        for f, i in self.vocab.items():
            self.idf[i] = math.log((1 + n) / (1 + df[f])) + 1.0
        mat = np.zeros((len(self.vocab), n), dtype=np.float32)
        for col, d in enumerate(docs):
            for j, v in tfidf(d, self.vocab, self.idf).items():
                mat[j, col] = v
        self.matrix = mat
        # Cues: the checklist's keywords and the lexicon's paraphrases, matched verbatim.
        self.cues: list[tuple[int, str, float]] = []
        for col, num in enumerate(self.numbers):
            entry = checklist.entries[num]
            seen: set[str] = set()
            for cue in (*entry.keywords, *item_cues.get(num, ())):
                if len(cue) >= 2 and cue not in seen:
                    seen.add(cue)
                    self.cues.append((col, cue, min(1.0, 0.35 * len(cue))))

    def similarity(self, counts: Counter[str]) -> np.ndarray:
        vec = tfidf(counts, self.vocab, self.idf)
        if not vec:
            return np.zeros(len(self.numbers), dtype=np.float32)
        idx = np.fromiter(vec.keys(), dtype=np.int64, count=len(vec))
        val = np.fromiter(vec.values(), dtype=np.float32, count=len(vec))
        return val @ self.matrix[idx]

    def cue_scores(self, text: str) -> np.ndarray:
        out = np.zeros(len(self.numbers), dtype=np.float32)
        for col, cue, weight in self.cues:
            if cue in text:
                out[col] += weight
        return out
