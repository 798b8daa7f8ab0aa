"""The dashboard and /stats in headless Chromium: the ECharts charts render (canvas)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.browser import MARKS
from tests.test_dashboard import build_world


@pytest.fixture
def world(app, db, campaign_id):
    return build_world(app, db, campaign_id)

pytestmark = MARKS
SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp"))



@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    # (the browser's own /favicon.ico request 404s: not a page error)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and "Failed to load resource" not in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.js_errors = errors
    yield page
    context.close()


def test_dashboard_renders_charts(live_url, page, make_user, world):
    user = make_user("taskforce")
    page.goto(live_url + "/login")
    page.fill("#username", user.username)
    page.fill("#password", f"pw-{user.username}")
    page.get_by_role("button", name="登录").click()
    page.goto(live_url + "/taskforce")
    page.wait_for_selector("#chart-trend canvas")
    for chart in ("trend", "status", "category", "district", "unit", "reply-time"):
        assert page.locator(f"#chart-{chart} canvas").count() >= 1, chart
        assert page.get_attribute(f"#chart-{chart}", "data-drawn") == "1"
    assert page.inner_text("#kpi-total") == "5"
    page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
    assert page.js_errors == []
    # a bar links to the list behind it
    page.goto(live_url + "/stats")
    page.wait_for_selector("[data-chart] canvas")
    page.screenshot(path=str(SHOTS / "stats.png"), full_page=True)
    assert page.js_errors == []
