"""Editable cue lists (agency, kind, per-item paraphrases, leadership) from lexicon.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Lexicon", "cue_score"]


def cue_score(text: str, cues: dict[str, float]) -> tuple[float, list[str]]:
    """Sum of weights of cues present; a repeated cue adds a little more (capped).

    Shorter cues inside longer ones that also matched (交警 in 交警大队) are not
    counted twice: only the longest matching cue of an overlapping family counts.
    """
    total = 0.0
    hits: list[str] = []
    for cue in sorted(cues, key=len, reverse=True):
        n = text.count(cue)
        if not n:
            continue
        covered = sum(text.count(h) for h in hits if cue in h)
        n -= covered
        if n <= 0:
            continue
        hits.append(cue)
        total += cues[cue] * (1.0 + 0.25 * min(n - 1, 4))
    return total, hits


@dataclass
class Lexicon:
    agency: dict[str, dict[str, float]] = field(default_factory=dict)
    kind: dict[str, dict[str, float]] = field(default_factory=dict)
    items: dict[int, list[str]] = field(default_factory=dict)
    topic_words: list[str] = field(default_factory=list)
    address_cues: list[str] = field(default_factory=list)
    leader_titles: list[str] = field(default_factory=list)
    unit_aliases: dict[str, list[str]] = field(default_factory=dict)
    generic_local: list[str] = field(default_factory=list)
    accusation_words: list[str] = field(default_factory=list)
    category_names: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Lexicon:
        lead = data.get("leadership") or {}

        def weights(d: dict[str, Any] | None) -> dict[str, float]:
            return {str(k): float(v) for k, v in (d or {}).items()}

        return cls(
            agency={k: weights(v) for k, v in (data.get("agency") or {}).items()},
            kind={k: weights(v) for k, v in (data.get("kind") or {}).items()},
            items={int(k): [str(c) for c in v] for k, v in (data.get("items") or {}).items()},
            topic_words=[str(w) for w in data.get("topic_words") or []],
            address_cues=[str(w) for w in data.get("address_cues") or []],
            leader_titles=[str(w) for w in lead.get("titles") or []],
            unit_aliases={
                str(k): [str(a) for a in v] for k, v in (lead.get("unit_aliases") or {}).items()
            },
            generic_local=[str(w) for w in lead.get("generic_local") or []],
            accusation_words=[str(w) for w in lead.get("accusation_words") or []],
            category_names=[str(w) for w in data.get("category_names") or []],
        )

    @classmethod
    def load(cls, path: Path) -> Lexicon:
        with open(path, encoding="utf-8") as fh:
            return cls.from_dict(yaml.safe_load(fh) or {})

    def words(self) -> set[str]:
        """Every cue, for jieba's custom dictionary."""
        out: set[str] = set()
        for group in (*self.agency.values(), *self.kind.values()):
            out.update(group)
        for cues in self.items.values():
            out.update(cues)
        out.update(self.leader_titles)
        for aliases in self.unit_aliases.values():
            out.update(aliases)
        return {w for w in out if any("\u4e00" <= ch <= "\u9fff" for ch in w)}
