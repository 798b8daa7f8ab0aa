"""One meaning of "overdue": a clue not signed by its acknowledge deadline is late
everywhere the task force, the unit or the API looks, even with the reply deadline ahead."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from app.api.credentials import issue_token
from app.dashboard import metrics
from app.dashboard.filters import Filters
from intake.models import ReportStatus as S
from notices.timeutil import utcnow
from routing import transitions as t
from routing.models import Assignment, Escalation
from routing.overdue import is_overdue
from routing.sweep import sweep
from tests.conftest import csrf_from
from tests.support.flow import file_report


@pytest.fixture
def unsigned_late(app, db, campaign_id):
    report = file_report(app, db, campaign_id)  # dispatched to 湟中区交通运输局, not signed
    assert report.status is S.dispatched
    assignment = t.current_assignment(db, report.id)
    assignment.acknowledge_due_at = utcnow() - timedelta(days=3)
    assignment.reply_due_at = utcnow() + timedelta(days=5)
    db.add(assignment)
    db.commit()
    return report.id, report.tracking_no


def test_late_signature_counts_as_overdue_in_every_view(app, db, client, login, make_user,
                                                       unsigned_late, campaign_id):
    report_id, number = unsigned_late
    assignment = db.exec(select(Assignment).where(Assignment.report_id == report_id)).one()
    assert is_overdue(S.dispatched, assignment, utcnow())
    assert not is_overdue(S.acknowledged, assignment, utcnow())  # signed: the reply counts

    count, rows = metrics.overdue(db, Filters(campaign_id=campaign_id))
    assert count == 1 and rows[0].due_kind == "acknowledge"

    unit_user = make_user("unit", unit_code="hzq")
    token = issue_token(db, unit_user.username).secret
    db.commit()
    api = client.get("/api/v1/dashboard", headers={"Authorization": f"Bearer {token}"})
    [row] = api.get_json()["by_unit"]
    assert row["overdue"] == 1

    login(unit_user)
    inbox = client.get("/unit").get_data(as_text=True)
    assert number in inbox and 'class="overdue"' in inbox and "已超期" in inbox

    result = sweep(db, app.extensions["intake"])
    assert (number, "acknowledge", "reminder") in result.escalations
    db.rollback()


def test_manual_escalation_of_an_unsigned_clue_is_not_repeated_by_the_sweep(
        app, db, client, login, make_user, unsigned_late):
    """The dashboard lists a clue late for 签收; its 催办 button counts against that
    deadline ("acknowledge"), as the sweep does, so the sweep sends no second 催办."""
    report_id, _number = unsigned_late
    login(make_user("taskforce"))
    token = csrf_from(client.get("/taskforce").get_data(as_text=True))
    client.post(f"/taskforce/reports/{report_id}/escalate", data={"csrf_token": token})
    db.rollback()
    sweep(db, app.extensions["intake"])
    db.rollback()
    reminders = db.exec(select(Escalation).where(Escalation.report_id == report_id,
                                                 Escalation.level == "reminder")).all()
    assert [(e.due_kind, e.by_id is not None) for e in reminders] == [("acknowledge", True)]
