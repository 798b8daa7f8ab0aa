"""What staff see on their pages: a refused triage decision comes back as it was made, the
report pages speak Chinese (no internal codes), checklist items read cleanly, tables scroll
on a phone, and the hotline console only claims an SMS it sent."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest
from sqlmodel import Session, select

from intake.forms import AGENCY_LABELS
from intake.models import Channel, Report
from intake.models import ReportStatus as S
from routing import transitions as t
from routing.desk_views import triage_reason
from routing.forms import KIND_LABELS
from tests.conftest import csrf_from
from tests.support.browser import MARKS
from tests.support.flow import file_report, unit_id

VAGUE = "他们态度很差，骂人。"  # no place, no unit: waits in triage with no suggestion
ROOT = Path(__file__).resolve().parent.parent


def _doc(page: str):
    return lxml.html.fromstring(page)


def _has_class(name: str) -> str:
    """An XPath predicate: the element has class `name`."""
    return f"contains(concat(' ', normalize-space(@class), ' '), ' {name} ')"


def _text(node) -> str:
    return " ".join(node.text_content().split())


def _errors_on_top(page: str) -> list[str]:
    return [_text(b) for b in _doc(page).xpath(f"//div[{_has_class('flash-error')}]")]


def _card(page: str, report_id: int):
    cards = _doc(page).get_element_by_id(f"triage-{report_id}")
    assert cards is not None, f"no triage card for report {report_id}"
    return cards


def _field_error(card, name: str) -> str:
    """The error shown inside the field block of `name` (a prefixed form field)."""
    blocks = card.xpath(f".//div[{_has_class('field')}][.//*[@name='{name}']]")
    assert blocks, name
    return " ".join(_text(e) for e in blocks[0].xpath(f".//p[{_has_class('error')}]"))


def _checked_action(card, report_id: int) -> str | None:
    checked = card.xpath(f".//input[@name='r{report_id}-action'][@checked]")
    return checked[0].get("value") if checked else None


def _selected_unit(card, report_id: int) -> tuple[str, str]:
    select_ = card.xpath(f".//select[@name='r{report_id}-unit_id']")[0]
    chosen = select_.xpath("./option[@selected]")
    option = chosen[0] if chosen else select_.xpath("./option")[0]
    return option.get("value"), _text(option)


def _decide(desk, rid: int, *, action: str, items: str = "", unit: str = "", note=None,
            token: str | None = None, **kwargs):
    """Post one triage card as the desk would (kind complaint, no district)."""
    if token is None:
        token = csrf_from(desk.get("/taskforce/triage").get_data(as_text=True))
    data = {"csrf_token": token, f"r{rid}-action": action, f"r{rid}-items": items,
            f"r{rid}-kind": "complaint", f"r{rid}-district": "", f"r{rid}-unit_id": unit}
    if note is not None:
        data[f"r{rid}-note"] = note
    return desk.post(f"/taskforce/triage/{rid}", data=data, **kwargs)


def _fresh(db: Session, report_id: int) -> Report:
    db.commit()
    db.expire_all()
    report = db.get(Report, report_id)
    db.commit()
    return report


@pytest.fixture
def vague(app, db, campaign_id) -> Report:
    report = file_report(app, db, campaign_id, channel=Channel.web, text=VAGUE)
    assert report.status is S.triage
    return report


@pytest.fixture
def desk(client, login, make_user):
    login(make_user("taskforce"))
    return client


# -- 1. triage: a refused decision keeps what was chosen, the message beside it ------------

def test_triage_card_without_suggestion_preselects_no_unit(desk, vague):
    card = _card(desk.get("/taskforce/triage").get_data(as_text=True), vague.id)
    value, label = _selected_unit(card, vague.id)
    assert value == "" and label == "请选择责任单位"


def test_refused_triage_keeps_the_refusal_and_shows_the_error_on_the_card(desk, db, vague):
    rid = vague.id
    zfjd = unit_id(db, "zfjd")
    response = _decide(desk, rid, action="not_accept", unit=str(zfjd), note="")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    card = _card(page, rid)
    # The card as submitted: a second 确认 refuses again instead of dispatching.
    assert _checked_action(card, rid) == "not_accept"
    assert _selected_unit(card, rid)[0] == str(zfjd)
    assert "请填写不予受理的理由" in _field_error(card, f"r{rid}-note")
    assert vague.tracking_no in _errors_on_top(page)[0]
    assert _fresh(db, rid).status is S.triage

    response = _decide(desk, rid, action="not_accept", unit=str(zfjd), note="内容不具体，无法核实",
                       token=csrf_from(page), follow_redirects=True)
    assert "已处理线索" in response.get_data(as_text=True)
    assert _fresh(db, rid).status is S.not_accepted


def test_dispatch_needs_a_unit_chosen(desk, db, vague):
    rid = vague.id
    response = _decide(desk, rid, action="dispatch", items="8")
    assert response.status_code == 400
    card = _card(response.get_data(as_text=True), rid)
    assert "请选择责任单位" in _field_error(card, f"r{rid}-unit_id")
    assert _field_error(card, f"r{rid}-items") == ""
    assert card.xpath(f".//input[@name='r{rid}-items']")[0].get("value") == "8"
    assert _fresh(db, rid).status is S.triage


def test_a_refusal_from_the_workflow_is_shown_beside_its_field(desk, db, vague):
    """Refer to a unit of the bureau: the transition refuses; the message sits by the unit."""
    rid = vague.id
    response = _decide(desk, rid, action="refer", unit=str(unit_id(db, "hzq")))
    assert response.status_code == 400
    card = _card(response.get_data(as_text=True), rid)
    assert "移交只能交给外部单位" in _field_error(card, f"r{rid}-unit_id")
    assert _checked_action(card, rid) == "refer"
    assert _fresh(db, rid).status is S.triage


def test_bad_item_numbers_are_shown_beside_the_items(desk, db, vague):
    rid = vague.id
    response = _decide(desk, rid, action="dispatch", items="8,99",
                       unit=str(unit_id(db, "hzq")))
    assert response.status_code == 400
    card = _card(response.get_data(as_text=True), rid)
    assert "清单条目须为1至36的数字" in _field_error(card, f"r{rid}-items")
    assert _fresh(db, rid).status is S.triage


# -- 3. Chinese labels instead of internal codes ---------------------------------------

def test_triage_card_speaks_chinese(desk, db, vague):
    report = _fresh(db, vague.id)
    card = _card(desk.get("/taskforce/triage").get_data(as_text=True), vague.id)
    heading = _text(card.xpath(".//h2")[0])
    assert "网站" in heading and " web" not in heading
    hint = _text(card.xpath(f".//p[{_has_class('hint')}]")[0])
    assert "complaint" not in hint and "transport" not in hint and "police" not in hint
    if report.kind is not None:
        assert f"类型 {KIND_LABELS[report.kind.value]}" in hint
    if report.agency:
        assert f"部门 {AGENCY_LABELS[report.agency]}" in hint
    reason = _text(card.xpath(f".//p[{_has_class('triage-reason')}]")[0])
    assert reason.startswith("原因：") and "triage" not in reason, reason


@pytest.mark.parametrize(("raw", "shown", "technical"), [
    ("no place known: triage", "未能识别地点", False),
    ("no routing rule matched: triage", "没有匹配的分办规则", False),
    ("low confidence 0.42 < 0.60", "机器分类把握不足（置信度 0.42，低于 0.60）", False),
    ("spam: not accepted", "疑似垃圾信息，建议不予受理", False),
    ("conflict of interest: the report accuses the leadership of 湟中区交通运输局; "
     "the task force escalates it one level up",
     "反映湟中区交通运输局领导的问题，不转该单位，由专班报上一级处理", False),
    ("district given (湟中区) and place in the text (大通县) differ: triage",
     "所选区县（湟中区）与反映内容中的地点（大通县）不一致", False),
    ("likely duplicate: the task force merges", "疑似重复线索，请并单", False),
    ("规则“甲”指定的责任单位已不存在，线索未自动转办，请人工分拣并修改该规则。",
     "规则“甲”指定的责任单位已不存在，线索未自动转办，请人工分拣并修改该规则。", False),
    ("something new from the router", "something new from the router", True),
])
def test_router_reasons_read_in_chinese_or_as_a_technical_note(app, raw, shown, technical):
    with app.test_request_context():
        assert triage_reason(raw) == (shown, technical)


def test_report_page_items_escalations_and_replies_in_chinese(app, db, desk, campaign_id,
                                                               make_user):
    services = app.extensions["intake"]
    report = file_report(app, db, campaign_id)
    rid = report.id
    if report.status is not S.dispatched:
        t.dispatch(db, services, rid, unit_id(db, "hzq"), t.SYSTEM)
    row = db.get(Report, rid)
    row.items = [19, 2, 34]
    db.add(row)
    db.commit()
    tf = make_user("taskforce")
    t.escalate(db, services, rid, tf)
    db.commit()
    unit_user = make_user("unit", unit_code="hzq")
    t.acknowledge(db, services, rid, unit_user)
    t.reply(db, services, rid, unit_user, finding="属实", measures="已约谈执法人员",
            public_text="经核实属实，已整改。")
    db.commit()

    doc = _doc(desk.get(f"/taskforce/reports/{rid}").get_data(as_text=True))
    items = [_text(d) for d in doc.get_element_by_id("report-items").xpath(
        f"./div[{_has_class('checklist-item')}]")]
    assert [i.split(".")[0] for i in items] == ["2", "19", "34"]
    assert items[1] == "19. 对同一当事人，在同一地点因同一违法行为连续多次作出处罚。"
    assert not any("。；" in i for i in items)
    escalations = _text(doc.get_element_by_id("escalations"))
    assert "催办" in escalations and "reminder" not in escalations
    reply = _text(doc.xpath(f"//div[{_has_class('reply')}]")[0])
    assert "属实" in reply and "待审核" in reply and "pending" not in reply
    assert "给群众的答复：经核实属实，已整改。" in reply


# -- 6. the unit's reply form and its own reply ----------------------------------------

def test_unit_reply_errors_are_distinct_and_beside_their_fields(app, db, client, login,
                                                                make_user, campaign_id):
    services = app.extensions["intake"]
    report = file_report(app, db, campaign_id)
    rid = report.id
    if report.status is not S.dispatched:
        t.dispatch(db, services, rid, unit_id(db, "hzq"), t.SYSTEM)
        db.commit()
    unit_user = make_user("unit", unit_code="hzq")
    t.acknowledge(db, services, rid, unit_user)
    db.commit()
    login(unit_user)
    page = client.get(f"/unit/clues/{rid}").get_data(as_text=True)
    response = client.post(f"/unit/clues/{rid}/reply", data={
        "csrf_token": csrf_from(page), "rep-finding": "部分属实", "rep-measures": "",
        "rep-public_text": "", "rep-accountability": "批评教育1人"})
    assert response.status_code == 400
    doc = _doc(response.get_data(as_text=True))
    form = doc.get_element_by_id("reply-form")
    assert form.get("action").endswith("#reply-form")
    measures = _field_error(form, "rep-measures")
    public = _field_error(form, "rep-public_text")
    assert measures == "请填写核实及整改措施。"
    assert public == "请填写给群众的答复。"
    assert form.xpath(".//input[@name='rep-finding'][@value='部分属实'][@checked]")
    assert _text(form.xpath(".//textarea[@name='rep-accountability']")[0]) == "批评教育1人"
    # Not the same banner twice at the top of the page.
    banners = _errors_on_top(response.get_data(as_text=True))
    assert len(banners) == 1 and "办结回复未提交" in banners[0]
    assert _fresh(db, rid).status is S.acknowledged

    page = response.get_data(as_text=True)
    client.post(f"/unit/clues/{rid}/reply", data={
        "csrf_token": csrf_from(page), "rep-finding": "部分属实",
        "rep-measures": "已约谈执法人员", "rep-public_text": "经核实部分属实，已整改。"})
    assert _fresh(db, rid).status is S.replied
    doc = _doc(client.get(f"/unit/clues/{rid}").get_data(as_text=True))
    reply = _text(doc.xpath(f"//div[{_has_class('reply')}]")[0])
    assert "部分属实" in reply and "待审核" in reply and "pending" not in reply
    assert "给群众的答复：经核实部分属实，已整改。" in reply


# -- 4. tables that scroll on a phone, the campaign switch -------------------------------

def _in_table_scroll(doc, table_id: str) -> bool:
    table = doc.get_element_by_id(table_id)
    return any("table-scroll" in (a.get("class") or "").split() for a in table.iterancestors())


def _stylesheets(doc) -> list[str]:
    return [link.get("href") for link in doc.xpath("//link[@rel='stylesheet']")]


def test_unit_inbox_table_scrolls_sideways(app, db, client, login, make_user, campaign_id):
    file_report(app, db, campaign_id)
    login(make_user("unit", unit_code="hzq"))
    doc = _doc(client.get("/unit").get_data(as_text=True))
    assert _in_table_scroll(doc, "inbox")
    assert any(href.endswith("dashboard.css") for href in _stylesheets(doc))


def test_dashboard_overdue_table_scrolls_and_period_switch_links_only_the_other(desk):
    doc = _doc(desk.get("/taskforce").get_data(as_text=True))
    assert _in_table_scroll(doc, "overdue-levels")
    switch = doc.get_element_by_id("trend-period")
    links = [_text(a) for a in switch.xpath(".//a")]
    current = [_text(s) for s in switch.xpath(".//strong")]
    assert len(links) == 1 and len(current) == 1 and links != current
    assert sorted(links + current) == sorted(["按日", "按周"])
    assert "按周 ·" not in _text(switch) and "按日 ·" not in _text(switch)
    other = "week" if current == ["按日"] else "day"
    doc = _doc(desk.get(f"/taskforce?period={other}").get_data(as_text=True))
    switch = doc.get_element_by_id("trend-period")
    assert [_text(s) for s in switch.xpath(".//strong")] == links


def test_campaign_switch_select_is_held_to_the_page_width(db, client, login, make_user):
    from app.cli import seed_campaign
    from routing.dispatch import forget_rules

    seed_campaign(db, ROOT / "notices" / "data" / "huangzhong-demo")
    db.commit()
    forget_rules()
    login(make_user("taskforce"))
    doc = _doc(client.get("/staff").get_data(as_text=True))
    select_ = doc.get_element_by_id("campaign-select")
    form = next(select_.iterancestors("form"))
    # .form select { width: 100% } in site.css: as wide as the page, never wider.
    assert "form" in form.get("class").split()
    assert select_.getparent().get("class") == "field"


# -- 5. the hotline console -------------------------------------------------------------

CALL = "来电人反映在城北区朝阳街道附近被运政执法人员拦车，执法人员未出示执法证件，态度恶劣。"


def _log_call(client, **fields):
    token = csrf_from(client.get("/staff/calls").get_data(as_text=True))
    data = {"csrf_token": token, "channel": "hotline", "caller_phone": "13900002222",
            "text": CALL, **fields}
    return client.post("/staff/calls", data=data)


def test_call_without_a_number_does_not_claim_an_sms(client, db, login, make_user):
    login(make_user("operator"))
    response = _log_call(client, caller_phone="")
    assert response.status_code == 200
    saved = _text(_doc(response.get_data(as_text=True)).get_element_by_id("saved-call"))
    assert "已同时短信发送" not in saved and "本次未发送短信" in saved


def test_call_with_a_number_says_the_sms_was_sent_and_shows_chinese_labels(client, db, login,
                                                                           make_user):
    login(make_user("operator"))
    response = _log_call(client)
    doc = _doc(response.get_data(as_text=True))
    saved = _text(doc.get_element_by_id("saved-call"))
    assert "已同时短信发送至来电号码" in saved
    agency = next(_text(li) for li in doc.xpath(f"//ul[{_has_class('suggestions')}]/li")
                  if "涉及部门" in _text(li))
    assert agency.split("：", 1)[1] in ("交通运输", "公安交警", "未识别")
    report = db.exec(select(Report)).one()
    row = next(r for r in doc.xpath("//table//tbody/tr") if report.tracking_no in _text(r))
    status = _text(row.xpath("./td")[-1])
    assert status and status != report.status.value and not status.isascii()


# -- 7. the ledger: actions apart from downloads ----------------------------------------

def test_ledger_add_entry_is_a_button_not_an_export(desk):
    doc = _doc(desk.get("/ledger").get_data(as_text=True))
    exports = _text(doc.get_element_by_id("ledger-exports"))
    assert "新增台账条目" not in exports and "阶段报告" not in exports
    assert "XLSX" in exports and "CSV" in exports
    actions = doc.get_element_by_id("ledger-actions")
    buttons = {_text(a): a.get("class") for a in actions.xpath(".//a")}
    assert "button" in buttons["新增台账条目"].split()
    assert "button" in buttons["阶段报告与典型案例"].split()


# -- in a browser, at desktop and phone width -------------------------------------------

DESK = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def in_browser(test):
    """Marked `browser`, and skipped without the Debian Chromium (tests/support/browser.py)."""
    for mark in MARKS:
        test = mark(test)
    return test


@pytest.fixture
def shots() -> Path:
    """Where the screenshots go (SCREENSHOT_DIR, as in the other browser tests)."""
    import os

    path = Path(os.environ.get("SCREENSHOT_DIR", "/tmp"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _signed_in(browser, live_url: str, user, viewport: dict):
    context = browser.new_context(viewport=viewport, locale="zh-CN",
                                  is_mobile=viewport is PHONE, has_touch=viewport is PHONE)
    page = context.new_page()
    page.goto(live_url + "/login")
    page.fill("#username", user.username)
    page.fill("#password", f"pw-{user.username}")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_url + "/staff")
    return context, page


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], (page.url, width)


@in_browser
@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_refused_triage_in_the_browser_returns_to_the_card(browser, live_url, make_user, app,
                                                           db, campaign_id, viewport, shots):
    first = file_report(app, db, campaign_id, channel=Channel.web, text=VAGUE)
    second = file_report(app, db, campaign_id, text="执法人员在检查站随便拦车，态度很差。")
    rid = second.id
    assert first.status is S.triage and second.status is S.triage
    context, page = _signed_in(browser, live_url, make_user("taskforce"), viewport)
    try:
        page.goto(live_url + "/taskforce/triage")
        card = page.locator(f"#triage-{rid}")
        assert card.locator(f"select[name='r{rid}-unit_id']").input_value() == ""
        card.locator(f"input[name='r{rid}-action'][value='not_accept']").check()
        card.get_by_role("button", name="确认").click()
        page.wait_for_url(f"**/taskforce/triage/{rid}#triage-{rid}")
        card = page.locator(f"#triage-{rid}")
        assert card.locator(f"input[name='r{rid}-action'][value='not_accept']").is_checked()
        assert "请填写不予受理的理由" in card.locator(".has-error").inner_text()
        assert card.is_visible() and card.bounding_box()["y"] < viewport["height"]
        if viewport is PHONE:
            _no_sideways_scroll(page)
        name = "desk" if viewport is DESK else "phone"
        page.screenshot(path=str(shots / f"staff-ux-triage-refused-{name}.png"))
        page.screenshot(path=str(shots / f"staff-ux-triage-refused-{name}-full.png"),
                        full_page=True)
        # The second 确认 with a reason refuses, as chosen: it does not dispatch.
        card.locator(f"textarea[name='r{rid}-note']").fill("内容不具体，无法核实")
        card.get_by_role("button", name="确认").click()
        page.wait_for_url(f"**/taskforce/triage#triage-{rid}")
        assert "已处理线索" in page.inner_text("main")
        assert _fresh(db, rid).status is S.not_accepted
    finally:
        context.close()


@in_browser
@pytest.mark.parametrize("viewport", [DESK, PHONE], ids=["desk", "phone"])
def test_report_page_and_unit_pages_fit_the_screen(browser, live_url, make_user, app, db,
                                                   campaign_id, viewport, shots):
    services = app.extensions["intake"]
    report = file_report(app, db, campaign_id)
    rid = report.id
    if report.status is not S.dispatched:
        t.dispatch(db, services, rid, unit_id(db, "hzq"), t.SYSTEM)
    row = db.get(Report, rid)
    row.items = [19, 2, 34]
    db.add(row)
    db.commit()
    t.escalate(db, services, rid, make_user("taskforce"))
    unit_user = make_user("unit", unit_code="hzq")
    t.acknowledge(db, services, rid, unit_user)
    t.reply(db, services, rid, unit_user, finding="属实", measures="已约谈执法人员",
            public_text="经核实属实，已整改。")
    db.commit()
    name = "desk" if viewport is DESK else "phone"

    context, page = _signed_in(browser, live_url, make_user("taskforce"), viewport)
    try:
        page.goto(live_url + f"/taskforce/reports/{rid}")
        items = page.locator("#report-items .checklist-item").all_inner_texts()
        assert [i.split(".")[0] for i in items] == ["2", "19", "34"]
        if viewport is PHONE:
            _no_sideways_scroll(page)
        page.screenshot(path=str(shots / f"staff-ux-report-{name}.png"), full_page=True)
        page.goto(live_url + "/staff")
        if viewport is PHONE:
            _no_sideways_scroll(page)
    finally:
        context.close()

    context, page = _signed_in(browser, live_url, unit_user, viewport)
    try:
        page.goto(live_url + "/unit")
        if viewport is PHONE:
            _no_sideways_scroll(page)
        page.screenshot(path=str(shots / f"staff-ux-unit-inbox-{name}.png"), full_page=True)
        page.goto(live_url + f"/unit/clues/{rid}")
        assert "给群众的答复：经核实属实，已整改。" in page.inner_text(".reply")
        page.screenshot(path=str(shots / f"staff-ux-unit-clue-{name}.png"), full_page=True)
    finally:
        context.close()
