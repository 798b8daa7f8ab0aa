"""The sweep's dispatch deadline: clues left waiting for the task force are flagged once."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from intake.models import Event, Report
from intake.models import ReportStatus as S
from intake.outbox import Message
from notices.timeutil import as_utc
from routing import transitions as t
from routing.sweep import sweep
from tests.support.flow import file_report

VAGUE = "执法人员态度很差。"  # no place, no item: waits in triage


def _overdue_messages(app, db) -> list[str]:
    return [app.extensions["pii"].decrypt(m.body_enc) for m in db.exec(
        select(Message).where(Message.purpose == "triage_overdue"))]


def test_clue_left_in_triage_is_flagged_once_after_the_dispatch_deadline(app, db,
                                                                         campaign_id):
    services = app.extensions["intake"]
    report = file_report(app, db, campaign_id, text=VAGUE)
    assert report.status is S.triage
    arrived = as_utc(report.updated_at)
    number, report_id = report.tracking_no, report.id

    assert sweep(db, services, now=arrived + timedelta(hours=2)).triage_overdue == []
    late = arrived + timedelta(days=6)  # past one working day whatever the weekday
    assert sweep(db, services, now=late).triage_overdue == [number]
    assert sweep(db, services, now=late + timedelta(days=1)).triage_overdue == []
    db.rollback()
    kinds = [e.kind for e in db.exec(select(Event).where(Event.report_id == report_id))]
    assert kinds.count("triage_overdue") == 1
    messages = _overdue_messages(app, db)
    assert len(messages) == 1 and number in messages[0]
    assert "13800001111" not in messages[0]  # no reporter details in the mail
    db.rollback()


def test_returned_clue_starts_a_new_stay_in_triage(app, db, campaign_id, make_user):
    services = app.extensions["intake"]
    report = file_report(app, db, campaign_id)  # dispatched to 湟中区交通运输局
    assert report.status is S.dispatched
    unit_user = make_user("unit", unit_code="hzq")
    t.return_(db, services, report.id, unit_user, reason="不属于本单位管辖")
    db.commit()
    db.rollback()
    returned = db.get(Report, report.id)
    assert returned.status is S.returned
    since = as_utc(returned.updated_at)
    assert sweep(db, services, now=since + timedelta(days=6)).triage_overdue == [
        returned.tracking_no]
    db.rollback()
