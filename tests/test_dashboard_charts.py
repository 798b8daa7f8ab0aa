"""What the dashboard's charts show: a "no data" note instead of a blank chart, readable
category labels (horizontal bars) and checklist items named by their own text."""

from __future__ import annotations

import html as html_lib
import json
import os
import re
from pathlib import Path

import pytest
from sqlmodel import Session

from intake.models import Channel
from intake.models import ReportStatus as S
from tests.support.browser import MARKS
from tests.test_dashboard import add_report, build_world

SHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp"))
ITEM_31 = "在上路查处违法车辆过程中，向车主主动索要财物后违规予以放行。"
ITEM_9 = "在行车道随意拦截正常行使大货车进行执法，导致交通事故发生。"


def build_unreplied(app, db: Session, campaign_id: int) -> None:
    """Reports dispatched to units, none replied yet (so no reply times), with long category
    names and several checklist items."""
    cases = [("hzq", '执法"寻租"', [31]), ("hzq", '执法"寻租"', [31, 9]),
             ("hyx", "执法规范化", [9]), ("hyx", "执法方式简单僵化", [34]),
             ("zfjd", "粗暴执法", [21]), (None, "逐利执法", [2])]
    for i, (unit, category, items) in enumerate(cases):
        add_report(app, db, campaign_id, unit=unit, received=f"2023-05-{8 + i:02d}T10:00",
                   status=S.dispatched if unit else S.triage, channel=Channel.web,
                   category=category, items=items,
                   dispatched=f"2023-05-{8 + i:02d}T11:00" if unit else None,
                   reply_due="2023-05-29T23:59:59" if unit else None)
    db.commit()


@pytest.fixture
def unreplied(app, db, campaign_id):
    build_unreplied(app, db, campaign_id)


def _dashboard(client, login, make_user) -> str:
    login(make_user("taskforce"))
    return client.get("/taskforce").get_data(as_text=True)


def _spec(html: str, chart_id: str) -> dict:
    match = re.search(rf'id="{chart_id}" data-chart="([^"]*)"', html)
    assert match, f"{chart_id} is not a chart"
    return json.loads(html_lib.unescape(match.group(1)))


def test_no_reply_yet_shows_a_note_not_an_empty_chart(client, login, make_user, unreplied):
    html = _dashboard(client, login, make_user)
    note = re.search(r'<p class="chart-empty" id="chart-reply-time"[^>]*>(.*?)</p>', html)
    assert note and note.group(1) == "暂无数据"
    assert 'id="chart-reply-time" data-chart=' not in html
    # the timing table under it still lists the units the reports went to
    assert 'id="timing-unit"' in html
    # charts that do have numbers are still drawn
    assert _spec(html, "chart-unit")["values"]


def test_reply_chart_is_drawn_once_there_are_replies(client, login, make_user, app, db,
                                                      campaign_id):
    build_world(app, db, campaign_id)
    html = _dashboard(client, login, make_user)
    spec = _spec(html, "chart-reply-time")
    assert any(v for s in spec["series"] for v in s["values"])
    assert 'class="chart-empty" id="chart-reply-time"' not in html


def test_no_reports_at_all(client, login, make_user, campaign_id):
    html = _dashboard(client, login, make_user)
    for chart in ("trend", "status", "category", "item", "reply-time"):
        assert re.search(rf'<p class="chart-empty" id="chart-{chart}"[^>]*>暂无数据</p>', html), \
            chart
    assert "data-chart=" not in html


def test_category_chart_uses_horizontal_bars(client, login, make_user, unreplied):
    html = _dashboard(client, login, make_user)
    assert re.search(r'id="chart-category" data-chart="[^"]*" data-horizontal="1"', html)
    # full category names, not cut off on the server
    assert "执法方式简单僵化" in _spec(html, "chart-category")["labels"]


def test_item_labels_carry_the_item_text(client, login, make_user, unreplied):
    html = _dashboard(client, login, make_user)
    spec = _spec(html, "chart-item")
    assert spec["labels"][0].startswith("第31项 在上路查处违法车辆过程中")
    assert spec["labels"][0].endswith("…") and len(spec["labels"][0]) < len(ITEM_31)
    assert spec["titles"][0] == f"第31项 {ITEM_31}"
    assert f"第9项 {ITEM_9}" in spec["titles"]
    assert all(re.match(r"第\d+项 \S", label) for label in spec["labels"])
    # the full text is also in a table under the chart, each row linking to its reports
    rows = re.search(r'<table class="grid compact" id="count-item">(.*?)</table>', html, re.S)
    assert rows and ITEM_31 in rows.group(1) and ITEM_9 in rows.group(1)
    assert re.search(r'<tr data-key="31"><td><span class="item-no">第31项</span> ' + ITEM_31
                     + r'</td><td class="num"><a href="[^"]*item=31[^"]*">2</a>', rows.group(1))


def test_item_labels_in_english(client, login, make_user, unreplied):
    login(make_user("taskforce"))
    html = client.get("/taskforce?lang=en").get_data(as_text=True)
    spec = _spec(html, "chart-item")
    assert spec["labels"][0].startswith("Item 31 在上路查处")
    assert spec["titles"][0] == f"Item 31 {ITEM_31}"
    assert re.search(r'<p class="chart-empty" id="chart-reply-time"[^>]*>No data yet</p>', html)


# -- in the browser ------------------------------------------------------------------

def _login(page, live_url, user) -> None:
    page.goto(live_url + "/login")
    page.fill("#username", user.username)
    page.fill("#password", f"pw-{user.username}")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(lambda url: "/login" not in url)


def _open(browser, viewport: dict, **kw):
    context = browser.new_context(viewport=viewport, locale="zh-CN", **kw)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error"
            and "Failed to load resource" not in m.text else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, errors


def _axis_labels(page, selector: str) -> dict:
    return page.evaluate("""sel => {
        const chart = echarts.getInstanceByDom(document.querySelector(sel));
        const o = chart.getOption();
        return {y: o.yAxis[0].type, labels: o.yAxis[0].data,
                height: document.querySelector(sel).clientHeight};
    }""", selector)


@pytest.mark.parametrize("name, viewport, extra", [
    ("desk", {"width": 1280, "height": 900}, {}),
    ("phone", {"width": 390, "height": 844},
     {"device_scale_factor": 2, "is_mobile": True, "has_touch": True}),
])
@MARKS[0]
@MARKS[1]
def test_charts_in_the_browser(live_url, browser, make_user, unreplied, name, viewport, extra):
    context, page, errors = _open(browser, viewport, **extra)
    try:
        _login(page, live_url, make_user("taskforce"))
        page.goto(live_url + "/taskforce")
        page.wait_for_selector("#chart-item canvas")
        # 1. no reply times yet: a visible note, no chart box
        note = page.locator("#chart-reply-time")
        assert note.is_visible() and note.inner_text() == "暂无数据"
        assert note.locator("canvas").count() == 0
        assert note.bounding_box()["height"] < 80
        # 2. categories as horizontal bars with their names on the left
        category = _axis_labels(page, "#chart-category")
        assert category["y"] == "category" and "执法方式简单僵化" in category["labels"]
        assert page.get_attribute("#chart-category", "data-orient") == "horizontal"
        # 3. items named by their text; the chart grows with the number of rows
        items = _axis_labels(page, "#chart-item")
        assert items["y"] == "category"
        assert items["labels"][0].startswith("第31项 在上路查处")
        assert items["height"] >= 28 * len(items["labels"])
        page.screenshot(path=str(SHOTS / f"dashboard-charts-zh-{name}.png"), full_page=True)
        for chart in ("category", "item"):
            page.locator(f"#chart-{chart}").screenshot(
                path=str(SHOTS / f"dashboard-chart-{chart}-zh-{name}.png"))
        # hovering a bar shows the item's full text (drawn on the canvas: screenshot only)
        x, y = page.evaluate("""() => {
            const el = document.querySelector('#chart-item'), box = el.getBoundingClientRect();
            const [px, py] = echarts.getInstanceByDom(el).convertToPixel({seriesIndex: 0}, [1, 0]);
            return [box.left + px, box.top + py];
        }""")
        page.mouse.move(x, y)
        page.wait_for_timeout(200)
        page.locator("#chart-item").screenshot(
            path=str(SHOTS / f"dashboard-chart-item-tooltip-zh-{name}.png"))
        page.mouse.move(0, 0)
        # the full item texts are one tap away
        page.get_by_text("查看条目全文").click()
        assert page.locator("#count-item").get_by_text(ITEM_31).is_visible()
        page.locator(".item-texts").screenshot(path=str(SHOTS / f"dashboard-item-texts-zh-{name}.png"))
        assert errors == []
    finally:
        context.close()


@MARKS[0]
@MARKS[1]
def test_script_treats_all_null_values_as_no_data(live_url, browser, make_user, unreplied):
    """charts.js itself (not only the template) shows the note for all-null/0 series."""
    context, page, errors = _open(browser, {"width": 1280, "height": 900})
    try:
        _login(page, live_url, make_user("taskforce"))
        page.goto(live_url + "/taskforce")
        page.wait_for_selector("#chart-item canvas")
        page.evaluate("""() => {
            document.querySelectorAll('[data-chart]').forEach(el => el.remove());
            const el = document.createElement('div');
            el.id = 'probe'; el.className = 'chart'; el.setAttribute('data-empty', '暂无数据');
            el.setAttribute('data-chart', JSON.stringify({type: 'bar', labels: ['甲', '乙'],
                series: [{name: 'a', values: [null, 0]}, {name: 'b', values: [null, null]}]}));
            document.querySelector('.dash').appendChild(el);
            const s = document.createElement('script');
            s.src = document.querySelector('script[src*="charts.js"]').src + '?again';
            document.head.appendChild(s);
        }""")
        page.wait_for_selector("#probe.chart-empty")
        assert page.inner_text("#probe") == "暂无数据"
        assert page.locator("#probe canvas").count() == 0
        assert errors == []
    finally:
        context.close()
