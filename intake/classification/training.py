"""Training entry point, cross-validation folds and confidence calibration."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from .checklist import Checklist
from .classifier import ACTIONABLE, SPECIAL_ITEMS, CampaignData, Classification, Classifier, Params
from .gazetteer import Gazetteer
from .lexicon import Lexicon
from .model import TrainedModel, fit_model
from .text import Featurizer

__all__ = ["kfold", "routing_facets_correct", "train_model"]


def _as_campaign(checklist: CampaignData | Checklist | Path | str) -> CampaignData:
    if isinstance(checklist, CampaignData):
        return checklist
    if isinstance(checklist, Checklist):
        return CampaignData(checklist, Gazetteer({}), Lexicon(), [], [], [])
    path = Path(checklist)
    if path.is_file():
        return CampaignData(Checklist.load(path), Gazetteer({}), Lexicon(), [], [], [])
    return CampaignData.load(path)


def kfold(rows: Sequence[dict[str, Any]], k: int) -> Iterator[tuple[list[dict], list[dict]]]:
    """Deterministic K folds, stratified by first item so every fold sees most items."""
    order = sorted(range(len(rows)), key=lambda i: ((rows[i].get("items") or [0])[0], i))
    fold_of = {idx: pos % k for pos, idx in enumerate(order)}
    for f in range(k):
        yield (
            [r for i, r in enumerate(rows) if fold_of[i] != f],
            [r for i, r in enumerate(rows) if fold_of[i] == f],
        )


def routing_facets_correct(res: Classification, gold: dict[str, Any]) -> bool:
    """Are the facets that the routing rules read all right (a proxy for the unit)?"""
    if (res.kind in ACTIONABLE) != (gold.get("kind") in ACTIONABLE):
        return False
    if res.kind not in ACTIONABLE:
        return True
    if res.agency != gold.get("agency"):
        return False
    if res.agency == "police":
        return True
    gold_first = (gold.get("items") or [None])[0]
    res_first = res.items[0] if res.items else None
    if (gold_first in SPECIAL_ITEMS or res_first in SPECIAL_ITEMS) and gold_first != res_first:
        return False
    if res_first in SPECIAL_ITEMS:
        return True
    return res.jurisdiction == gold.get("jurisdiction")


def _fit_platt(raw: list[float], target: list[bool]) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression

    if len(set(target)) < 2:
        return {"a": 1.0, "b": 0.0}
    x = [[math.log(max(r, 1e-4) / max(1e-4, 1 - r))] for r in raw]
    lr = LogisticRegression(C=1.0).fit(x, target)
    return {"a": float(lr.coef_[0][0]), "b": float(lr.intercept_[0])}


def train_model(
    examples: Iterable[dict[str, Any]],
    checklist: CampaignData | Checklist | Path | str,
    *,
    calibrate: bool = True,
    folds: int = 5,
    params: Params | None = None,
    featurizer: Featurizer | None = None,
) -> TrainedModel:
    """Train on labelled examples (id, text, items, kind, agency, jurisdiction).

    ``checklist`` is the campaign directory (preferred: the tokenizer then knows the
    gazetteer and lexicon words exactly as at run time), its CampaignData, or a bare
    Checklist. With ``calibrate``, out-of-fold predictions fit the mapping from raw
    to calibrated confidence (Platt scaling), stored in the model's metadata.
    """
    campaign = _as_campaign(checklist)
    featurizer = featurizer or campaign.featurizer()
    rows = [ex for ex in examples if (ex.get("text") or "").strip()]
    model = fit_model(rows, campaign.checklist, featurizer, campaign.lexicon.items)
    if calibrate and len(rows) >= 10 * folds:
        raw: list[float] = []
        target: list[bool] = []
        for train, test in kfold(rows, folds):
            sub = fit_model(train, campaign.checklist, featurizer, campaign.lexicon.items)
            clf = Classifier(campaign, sub, params, featurizer)
            for ex in test:
                res = clf.classify(ex["text"], ex.get("channel"))
                raw.append(float(res.details.get("raw_confidence", res.confidence)))
                target.append(routing_facets_correct(res, ex))
        model.meta["calibration"] = {**_fit_platt(raw, target), "folds": folds, "n": len(raw)}
    return model
