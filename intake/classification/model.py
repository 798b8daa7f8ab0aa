"""The statistical model: linear heads over shared word + char n-gram TF-IDF features.

Trained with scikit-learn, stored as a small versioned ``.npz`` (no pickle): the
vocabulary, idf weights and one coefficient matrix per head (items, kind, agency),
plus JSON metadata with the format version and a hash of the training data.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .checklist import Checklist
from .text import Featurizer, tfidf

__all__ = ["FORMAT_VERSION", "LinearHead", "TrainedModel", "examples_hash", "fit_model"]

FORMAT_VERSION = 1
NO_ITEM = 0  # class of the item head for reports that match no checklist item


@dataclass
class LinearHead:
    classes: list[str]
    coef: np.ndarray  # (n_features, n_classes)
    intercept: np.ndarray  # (n_classes,)

    def logits(self, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
        return val @ self.coef[idx] + self.intercept if len(idx) else self.intercept.copy()

    def proba(self, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
        z = self.logits(idx, val)
        z = z - z.max()
        e = np.exp(z)
        return e / e.sum()


@dataclass
class TrainedModel:
    vocab: dict[str, int]
    idf: list[float]
    heads: dict[str, LinearHead]
    meta: dict[str, Any] = field(default_factory=dict)

    def vector(self, counts: Counter[str]) -> tuple[np.ndarray, np.ndarray]:
        vec = tfidf(counts, self.vocab, self.idf)
        idx = np.fromiter(vec.keys(), dtype=np.int64, count=len(vec))
        val = np.fromiter(vec.values(), dtype=np.float32, count=len(vec))
        return idx, val

    def save(self, path: Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        words = sorted(self.vocab, key=self.vocab.__getitem__)
        arrays: dict[str, np.ndarray] = {
            "vocab": np.array(words, dtype=np.str_),
            "idf": np.asarray(self.idf, dtype=np.float32),
            "meta": np.array(json.dumps(self.meta, ensure_ascii=False)),
        }
        for name, head in self.heads.items():
            arrays[f"{name}__coef"] = head.coef.astype(np.float32)
            arrays[f"{name}__intercept"] = head.intercept.astype(np.float32)
            arrays[f"{name}__classes"] = np.array(head.classes, dtype=np.str_)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, **arrays)
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> TrainedModel:
        with np.load(Path(path), allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format_version") != FORMAT_VERSION:
                raise ValueError(
                    f"classifier model {path} has format {meta.get('format_version')}, "
                    f"expected {FORMAT_VERSION}; retrain with `flask intake train`"
                )
            vocab = {str(w): i for i, w in enumerate(data["vocab"].tolist())}
            heads = {}
            for key in data.files:
                if key.endswith("__coef"):
                    name = key[: -len("__coef")]
                    heads[name] = LinearHead(
                        classes=[str(c) for c in data[f"{name}__classes"].tolist()],
                        coef=np.asarray(data[key], dtype=np.float32),
                        intercept=np.asarray(data[f"{name}__intercept"], dtype=np.float32),
                    )
            return cls(vocab=vocab, idf=[float(x) for x in data["idf"]], heads=heads, meta=meta)


def examples_hash(examples: Sequence[dict[str, Any]]) -> str:
    """Stable hash of the labelled data a model was trained on (text + labels, not ids)."""
    h = hashlib.sha256()
    for ex in examples:
        record = {k: ex.get(k) for k in ("text", "items", "kind", "agency")}
        h.update(json.dumps(record, ensure_ascii=False, sort_keys=True).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def _fit_head(
    rows: list[Counter[str]],
    labels: list[str],
    weights: list[float],
    vocab: dict[str, int],
    idf: list[float],
    c: float,
) -> LinearHead | None:
    from scipy.sparse import csr_matrix
    from sklearn.linear_model import LogisticRegression

    classes = sorted(set(labels))
    if len(classes) < 2:
        return None
    data, ind, ptr = [], [], [0]
    for counts in rows:
        vec = tfidf(counts, vocab, idf)
        ind.extend(vec.keys())
        data.extend(vec.values())
        ptr.append(len(ind))
    x = csr_matrix((data, ind, ptr), shape=(len(rows), len(vocab)), dtype=np.float64)
    clf = LogisticRegression(C=c, max_iter=3000)
    clf.fit(x, labels, sample_weight=np.asarray(weights))
    coef = clf.coef_.T
    intercept = clf.intercept_
    if len(clf.classes_) == 2:  # binary: expand to two columns so proba() stays softmax
        coef = np.hstack([-coef / 2, coef / 2])
        intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
    return LinearHead(
        [str(k) for k in clf.classes_], coef.astype(np.float32), intercept.astype(np.float32)
    )


def fit_model(
    examples: Iterable[dict[str, Any]],
    checklist: Checklist,
    featurizer: Featurizer,
    item_cues: dict[int, list[str]] | None = None,
    *,
    c_items: float = 20.0,
    c_kind: float = 10.0,
    c_agency: float = 10.0,
    checklist_weight: float = 1.0,
    min_df: int = 1,
) -> TrainedModel:
    """Train the three heads. Checklist wording is added as extra item examples."""
    examples = [ex for ex in examples if (ex.get("text") or "").strip()]
    item_cues = item_cues or {}
    ex_counts = [featurizer.counts(ex["text"]) for ex in examples]
    cl_counts = [
        featurizer.counts(checklist.document(n, tuple(item_cues.get(n, ()))))
        for n in checklist.numbers
    ]
    df: Counter[str] = Counter()
    for counts in (*ex_counts, *cl_counts):
        df.update(counts.keys())
    feats = sorted(f for f, n in df.items() if n >= min_df)
    vocab = {f: i for i, f in enumerate(feats)}
    n_docs = len(ex_counts) + len(cl_counts)
    idf = [math.log((1 + n_docs) / (1 + df[f])) + 1.0 for f in feats]

    rows: list[Counter[str]] = []
    labels: list[str] = []
    weights: list[float] = []
    for counts, ex in zip(ex_counts, examples, strict=True):
        items = [int(i) for i in ex.get("items") or []]
        if not items:
            rows.append(counts)
            labels.append(str(NO_ITEM))
            weights.append(0.5)
        for rank, item in enumerate(items):
            rows.append(counts)
            labels.append(str(item))
            weights.append(1.0 if rank == 0 else 0.5)
    for counts, num in zip(cl_counts, checklist.numbers, strict=True):
        rows.append(counts)
        labels.append(str(num))
        weights.append(checklist_weight)

    heads: dict[str, LinearHead] = {}
    item_head = _fit_head(rows, labels, weights, vocab, idf, c_items)
    if item_head:
        heads["items"] = item_head
    for name, key, c in (("kind", "kind", c_kind), ("agency", "agency", c_agency)):
        pairs = [
            (cnt, str(ex[key])) for cnt, ex in zip(ex_counts, examples, strict=True) if ex.get(key)
        ]
        head = _fit_head(
            [p[0] for p in pairs], [p[1] for p in pairs], [1.0] * len(pairs), vocab, idf, c
        )
        if head:
            heads[name] = head
    meta = {
        "format_version": FORMAT_VERSION,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "n_examples": len(examples),
        "training_data_sha256": examples_hash(examples),
        "checklist_items": checklist.numbers,
        "n_features": len(vocab),
        "params": {
            "c_items": c_items,
            "c_kind": c_kind,
            "c_agency": c_agency,
            "checklist_weight": checklist_weight,
            "min_df": min_df,
        },
    }
    return TrainedModel(vocab=vocab, idf=idf, heads=heads, meta=meta)
