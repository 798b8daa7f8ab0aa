"""Classifier fixtures shared by the classification test modules (module-scoped: the
trained one is built once per module that uses it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from intake.classification import CampaignData, Classifier, train_model

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN = ROOT / "notices" / "data" / "xining-2023-129"
LABELLED = ROOT / "intake" / "data" / "labelled" / "dev_reports.jsonl"


@pytest.fixture(scope="module")
def campaign() -> CampaignData:
    return CampaignData.load(CAMPAIGN)


@pytest.fixture(scope="module")
def baseline(campaign: CampaignData) -> Classifier:
    return Classifier(campaign)


@pytest.fixture(scope="module")
def trained(campaign: CampaignData, baseline: Classifier) -> Classifier:
    rows = [
        json.loads(line)
        for line in LABELLED.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    model = train_model(rows, campaign, calibrate=False, featurizer=baseline.featurizer)
    return Classifier(campaign, model, featurizer=baseline.featurizer)
