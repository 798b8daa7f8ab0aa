"""The task force edits routing rules, the holiday table, and sees failed messages."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlmodel import select

from intake.models import Event
from intake.outbox import Message, MessageStatus
from routing.deadlines import forget_calendar, work_calendar
from routing.models import RoutingRule
from tests.conftest import csrf_from
from tests.support.flow import unit_id


def test_rule_edit_is_saved_and_audited(client, db, make_user, login):
    login(make_user("taskforce"))
    page = client.get("/taskforce/rules").get_data(as_text=True)
    assert "交警事项转公安" in page
    response = client.post("/taskforce/rules", data={
        "csrf_token": csrf_from(page), "priority": 25, "name": "限高设施交运输科",
        "condition": "first_item", "value": "13", "action": "dispatch",
        "unit_id": unit_id(db, "ysk"), "is_active": "y"})
    assert response.status_code == 302
    db.commit()
    rule = db.exec(select(RoutingRule).where(RoutingRule.priority == 25)).one()
    assert rule.when == {"first_item": 13}
    assert db.exec(select(Event).where(Event.kind == "routing_rule_saved")).first() is not None


def test_rule_with_a_bad_value_is_refused(client, db, make_user, login):
    login(make_user("taskforce"))
    page = client.get("/taskforce/rules").get_data(as_text=True)
    response = client.post("/taskforce/rules", data={
        "csrf_token": csrf_from(page), "priority": 26, "name": "x", "condition": "first_item",
        "value": "99", "action": "dispatch", "unit_id": unit_id(db, "ysk")})
    assert "取值不正确" in response.get_data(as_text=True)
    db.commit()
    assert db.exec(select(RoutingRule).where(RoutingRule.priority == 26)).first() is None


def test_a_new_holiday_moves_deadlines(client, db, make_user, login):
    login(make_user("taskforce"))
    forget_calendar()
    start = datetime(2027, 3, 1, 2, tzinfo=UTC)  # Monday 10:00 CST
    before = work_calendar(db).add_working_days(start, 1)
    page = client.get("/taskforce/calendar").get_data(as_text=True)
    assert "2027年法定节假日安排尚未录入" in page
    client.post("/taskforce/calendar", data={"csrf_token": csrf_from(page), "day": "2027-03-02",
                                             "workday": "0", "note": "测试放假"})
    db.commit()
    forget_calendar()
    after = work_calendar(db).add_working_days(start, 1)
    assert before.date() == date(2027, 3, 2) and after.date() == date(2027, 3, 3)
    # One day entered is not the year's schedule: the warning stays until it is marked
    # complete, and comes back if that is taken back.
    page = client.get("/taskforce/calendar").get_data(as_text=True)
    assert "2027年法定节假日安排尚未录入" in page
    client.post("/taskforce/calendar/year", data={"csrf_token": csrf_from(page),
                                                  "year": "2027", "published": "1"})
    page = client.get("/taskforce/calendar").get_data(as_text=True)
    assert "2027年法定节假日安排尚未录入" not in page and "标记为已完整录入" not in page
    client.post("/taskforce/calendar/year", data={"csrf_token": csrf_from(page),
                                                  "year": "2027", "published": "0"})
    assert "2027年法定节假日安排尚未录入" in client.get("/taskforce/calendar").get_data(
        as_text=True)


def test_failed_messages_are_visible_and_can_be_retried(client, db, make_user, login, app):
    from intake.outbox import queue_message

    message = queue_message(db, app.extensions["pii"], channel="sms", recipient="+8613800000000",
                            body="x", purpose="result")
    message.status, message.last_error = MessageStatus.failed, "21211 invalid 'To' number"
    db.commit()
    login(make_user("taskforce"))
    page = client.get("/taskforce/messages").get_data(as_text=True)
    assert "21211" in page and "+8613800000000" not in page
    client.post(f"/taskforce/messages/{message.id}/retry", data={"csrf_token": csrf_from(page)})
    db.commit()
    db.expire_all()
    assert db.get(Message, message.id).status is MessageStatus.queued


def test_a_year_marked_complete_before_any_day_is_entered_counts(db):
    from routing.deadlines import mark_year

    mark_year(db, 2031, True, "国务院办公厅关于2031年部分节假日安排的通知")
    db.commit()
    forget_calendar()
    assert work_calendar(db).is_year_published(2031)
