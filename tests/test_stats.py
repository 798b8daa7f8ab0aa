"""The public /stats page: campaign-wide numbers, no reporter, no clue text, cached."""

from __future__ import annotations

import re

import pytest

from app.dashboard import stats
from tests.test_dashboard import REPORTER_NAMES, REPORTER_PHONES, build_world


@pytest.fixture
def world(app, db, campaign_id):
    return build_world(app, db, campaign_id)


def test_stats_shows_totals_and_no_personal_data(client, world):
    stats.cache.clear()
    response = client.get("/stats")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert re.search(r'id="stat-received">5<', html)
    assert re.search(r'id="stat-handled">2<', html)
    assert re.search(r'id="stat-ontime">50.0%<', html)
    assert re.search(r'id="stat-satisfaction">95.0%<', html)
    assert "城东区" in html and "粗暴执法" in html
    for secret in REPORTER_NAMES + REPORTER_PHONES:
        assert secret not in html
    assert "检查站执法人员随意拦车检查" not in html  # no clue text
    for report in world["reports"]:
        assert report.tracking_no not in html
    assert "max-age" in response.headers["Cache-Control"]


def test_stats_is_cached(app, client, db, world, monkeypatch):
    stats.cache.clear()
    first = client.get("/stats").get_data(as_text=True)
    calls = []
    monkeypatch.setattr(stats, "public_numbers", lambda *a: calls.append(a) or {})
    second = client.get("/stats").get_data(as_text=True)
    assert calls == [] and re.search(r'id="stat-received">5<', second)
    assert first == second
    stats.cache.clear()
