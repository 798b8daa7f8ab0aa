"""The routing-rule page refuses rules that could never route, with the reason on the field.

Every case goes through the real task-force page (signed in, CSRF token from the form) and
checks what the user sees and that no rule was stored.
"""

from __future__ import annotations

import html

import pytest
from sqlmodel import select

from intake.models import Event
from routing.models import RoutingRule, Unit
from routing.policy import resolve_unit
from tests.conftest import csrf_from
from tests.support.channels import flashes
from tests.support.flow import unit_id

RULES = "/taskforce/rules"
PRIORITY = 77  # no seeded rule has it


@pytest.fixture
def desk(client, make_user, login):
    login(make_user("taskforce"))
    return client


def _post(client, **fields):
    page = client.get(RULES).get_data(as_text=True)
    data = {"csrf_token": csrf_from(page), "priority": PRIORITY, "name": "测试规则",
            "condition": "jurisdiction", "value": "湟中区", "action": "dispatch",
            "is_active": "y", **fields}
    response = client.post(RULES, data=data)
    return response, html.unescape(response.get_data(as_text=True))


def _stored(db, priority: int = PRIORITY) -> RoutingRule | None:
    db.commit()
    db.expire_all()
    return db.exec(select(RoutingRule).where(RoutingRule.priority == priority)).first()


def _refused(response, page: str, message: str) -> None:
    assert response.status_code == 200
    assert message in page
    assert 'class="field has-error"' in page


# -- action and unit --------------------------------------------------------------------

def test_refer_to_an_internal_unit_is_refused(desk, db):
    response, page = _post(desk, action="refer", unit_id=unit_id(db, "hzq"))
    _refused(response, page, "移交只能交给外部单位（如交警部门）；本系统内的单位请用转办。")
    assert _stored(db) is None


def test_dispatch_to_an_external_unit_is_refused(desk, db):
    response, page = _post(desk, condition="agency", value="police", action="dispatch",
                           unit_id=unit_id(db, "jjzd"))
    _refused(response, page, "转办只能交给本系统内的单位；外部单位（如交警部门）请选择“移交”。")
    assert _stored(db) is None


def test_external_units_are_marked_in_the_list(desk, db):
    page = html.unescape(desk.get(RULES).get_data(as_text=True))
    external = db.exec(select(Unit).where(Unit.code == "jjzd")).one()
    assert f"{external.name}（外部单位）" in page


def test_refer_to_an_external_and_dispatch_to_an_internal_unit_are_saved(desk, db):
    response, _page = _post(desk, condition="agency", value="police", action="refer",
                            unit_id=unit_id(db, "jjzd"))
    assert response.status_code == 302
    rule = _stored(db)
    assert rule is not None and rule.action.value == "refer"
    response, _page = _post(desk, priority=PRIORITY + 1, unit_id=unit_id(db, "hzq"))
    assert response.status_code == 302
    assert _stored(db, PRIORITY + 1).when == {"jurisdiction": "湟中区"}


def test_an_inactive_unit_is_refused(desk, db):
    unit = db.exec(select(Unit).where(Unit.code == "dtx")).one()
    stale = desk.get(RULES).get_data(as_text=True)  # the form as it was, unit still offered
    unit.is_active = False
    db.add(unit)
    db.commit()
    response = desk.post(RULES, data={
        "csrf_token": csrf_from(stale), "priority": PRIORITY, "name": "大通", "is_active": "y",
        "condition": "jurisdiction", "value": "大通县", "action": "dispatch", "unit_id": unit.id})
    _refused(response, html.unescape(response.get_data(as_text=True)),
             "请从列表中选择一个启用中的单位。")
    assert _stored(db) is None


@pytest.mark.parametrize("unit", ["999999", "99999999999999999999", "abc", ""])
def test_a_unit_that_does_not_exist_is_refused_not_a_500(desk, db, unit):
    response, page = _post(desk, unit_id=unit)
    _refused(response, page, "请从列表中选择一个启用中的单位。")
    assert "Internal Server Error" not in page
    assert _stored(db) is None


# -- values a rule can match --------------------------------------------------------------

@pytest.mark.parametrize("kind", ["inquiry", "praise", "spam", "invalid", "other"])
def test_kinds_that_go_to_triage_first_are_refused(desk, db, kind):
    response, page = _post(desk, condition="kind", value=kind, unit_id=unit_id(db, "ysk"))
    _refused(response, page, "取值不正确：类型只能填 complaint（投诉）或 tip（举报）")
    assert _stored(db) is None


@pytest.mark.parametrize("agency", ["none", "Police", "交警"])
def test_agency_none_and_unknown_agencies_are_refused(desk, db, agency):
    response, page = _post(desk, condition="agency", value=agency, unit_id=unit_id(db, "ysk"))
    _refused(response, page,
             "取值不正确：涉及部门只能填 police（公安交警）或 transport（交通运输）。")
    assert _stored(db) is None


@pytest.mark.parametrize("kind", ["complaint", "tip"])
def test_actionable_kinds_are_saved(desk, db, kind):
    response, _page = _post(desk, condition="kind", value=kind, unit_id=unit_id(db, "ysk"))
    assert response.status_code == 302
    assert _stored(db).when == {"kind": kind}


@pytest.mark.parametrize("value", ["²", "³", "１３", "0", "99", "-1", "1.5"])
def test_a_bad_checklist_item_is_refused_not_a_500(desk, db, value):
    response, page = _post(desk, condition="first_item", value=value,
                           unit_id=unit_id(db, "ysk"))
    _refused(response, page, "取值不正确：首要清单条目请填 1-")
    assert _stored(db) is None


def test_an_unknown_district_is_refused(desk, db):
    response, page = _post(desk, value="湟中", unit_id=unit_id(db, "hzq"))
    _refused(response, page, "取值不正确：区县请填区县全称：城东区、城中区")
    assert _stored(db) is None


def test_every_value_the_page_accepts_can_match_and_the_refused_ones_cannot():
    """The page's lists agree with the policy: accepted values route, refused ones never do."""
    from routing.settings_views import RULE_AGENCIES, RULE_KINDS

    def route(when: dict, result: dict) -> str | None:
        rule = {"priority": 1, "name": "r", "when": when, "action": "dispatch", "unit": "U"}
        return resolve_unit({"confidence": 1.0, "items": [13], "jurisdiction": "湟中区",
                             **result}, [rule], min_confidence=0.5).unit

    for kind in RULE_KINDS:
        assert route({"kind": kind}, {"kind": kind, "agency": "transport"}) == "U"
    for agency in RULE_AGENCIES:
        assert route({"agency": agency}, {"kind": "complaint", "agency": agency}) == "U"
    for kind in ("inquiry", "praise", "spam", "invalid"):
        assert route({"kind": kind}, {"kind": kind, "agency": "none"}) is None
        assert route({"agency": "none"}, {"kind": kind, "agency": "none"}) is None


# -- same priority: the page says it edits, and the audit keeps the old rule ----------------

def test_same_priority_replaces_the_rule_and_the_audit_keeps_the_old_one(desk, db):
    old = db.exec(select(RoutingRule).where(RoutingRule.priority == 30)).one()
    old_values = {"name": old.name, "when": old.when, "action": old.action.value,
                  "unit_id": old.unit_id, "is_active": old.is_active}
    page = html.unescape(desk.get(RULES).get_data(as_text=True))
    assert "相同优先级即修改" in page
    response, _page = _post(desk, priority=30, name="湟中区改派执法监督局",
                            unit_id=unit_id(db, "zfjd"))
    assert response.status_code == 302
    shown = flashes(desk.get(RULES).get_data(as_text=True))
    assert ("success", f"规则已保存，替换了优先级 30 的原规则“{old.name}”。") in shown
    rule = _stored(db, 30)
    assert rule.id == old.id and rule.unit_id == unit_id(db, "zfjd")
    event = db.exec(select(Event).where(Event.kind == "routing_rule_saved")
                    .order_by(Event.id.desc())).first()
    assert event.data["previous"] == old_values
    assert event.data["unit_id"] == unit_id(db, "zfjd") and event.data["priority"] == 30


def test_a_new_priority_has_no_previous_rule_in_the_audit(desk, db):
    response, _page = _post(desk, unit_id=unit_id(db, "hzq"))
    assert response.status_code == 302
    assert ("success", "规则已保存。") in flashes(desk.get(RULES).get_data(as_text=True))
    assert _stored(db) is not None
    event = db.exec(select(Event).where(Event.kind == "routing_rule_saved")).one()
    assert event.data["previous"] is None


# -- a database error still gets the Chinese error page ----------------------------------

def test_a_database_error_shows_the_chinese_error_page(desk, db, monkeypatch):
    """A failed commit leaves the request session needing a rollback; the 500 page (which
    reads the signed-in user for the navigation) must still render."""
    import routing.settings_views as views

    monkeypatch.setattr(views, "_unit_error", lambda *_args: None)  # let the bad id through
    response, page = _post(desk, unit_id="999999")
    assert response.status_code == 500
    assert "系统出现错误，您的操作没有完成，请稍后重试。" in page
    assert "<!doctype html>" in page.lower() and "返回首页" in page
    assert "Internal Server Error" not in page
    assert _stored(db) is None
    # The next request in the same client works as usual.
    assert desk.get(RULES).status_code == 200
