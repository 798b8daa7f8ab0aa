"""A change to the holiday table counts the deadlines of clues with units again: a day that
becomes a holiday moves a deadline later, a new make-up working day brings it closer."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from intake.models import Event, Report
from intake.models import ReportStatus as S
from notices.timeutil import as_utc, to_cst, utcnow
from routing.deadlines import build_calendar, forget_calendar
from routing.models import Assignment
from tests.conftest import csrf_from
from tests.support.channels import unit_code_of_current_assignment
from tests.support.flow import file_report


def _assignment(db, report: Report) -> Assignment:
    db.rollback()  # a new snapshot: the pages committed in their own sessions
    db.expire_all()
    return db.exec(select(Assignment).where(Assignment.report_id == report.id,
                                            Assignment.is_current == True)  # noqa: E712
                   ).one()


def _save_day(client, day: date, workday: bool, note: str) -> str:
    token = csrf_from(client.get("/taskforce/calendar").get_data(as_text=True))
    response = client.post("/taskforce/calendar", data={
        "csrf_token": token, "day": day.isoformat(), "workday": "1" if workday else "0",
        "note": note}, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _weekend_between(calendar, start: date, end: date) -> date:
    day = start + timedelta(days=1)
    while day < end:
        if not calendar.is_workday(day):
            return day
        day += timedelta(days=1)
    raise AssertionError("no day off before the deadline")


def test_a_new_holiday_moves_the_deadline_and_a_make_up_day_brings_it_back(
        app, db, campaign_id, client, make_user, login):
    report = file_report(app, db, campaign_id)
    assert db.get(Report, report.id).status is S.dispatched
    before = _assignment(db, report)
    start = as_utc(before.dispatched_at)
    reply_due, acknowledge_due = as_utc(before.reply_due_at), as_utc(before.acknowledge_due_at)
    days = build_calendar(db).working_days_counted(start, reply_due)
    assert days >= 3
    login(make_user("taskforce"))

    page = _save_day(client, to_cst(reply_due).date(), False, "临时放假")

    assert "1 条在办线索的期限已按新的节假日安排重新计算" in page
    moved = _assignment(db, report)
    calendar = build_calendar(db)
    later = as_utc(moved.reply_due_at)
    assert later > reply_due and calendar.is_workday(to_cst(later).date())
    assert calendar.working_days_counted(start, later) == days  # the same working days
    assert as_utc(moved.acknowledge_due_at) == acknowledge_due  # that day was not in its count
    events = db.exec(select(Event).where(Event.report_id == report.id,
                                         Event.kind == "deadline_moved")).all()
    assert len(events) == 1 and not events[0].public
    assert events[0].data["reply_due_at"] == [reply_due.isoformat(), later.isoformat()]

    day_off = _weekend_between(calendar, to_cst(utcnow()).date() + timedelta(days=1),
                               to_cst(later).date())
    _save_day(client, day_off, True, "调休上班")
    back = as_utc(_assignment(db, report).reply_due_at)
    calendar = build_calendar(db)
    assert back < later and calendar.working_days_counted(start, back) == days

    login(make_user("unit", unit_code=unit_code_of_current_assignment(db, report.id)))
    clue = client.get(f"/unit/clues/{report.id}").get_data(as_text=True)
    assert clue.count("期限重新计算") == 2  # the unit is told its deadline moved
    forget_calendar()


def test_a_deadline_already_passed_and_closed_clues_stay_as_they_were(app, db, campaign_id,
                                                                     client, make_user, login):
    report = file_report(app, db, campaign_id)
    assignment = _assignment(db, report)
    past = utcnow() - timedelta(hours=1)
    assignment.acknowledge_due_at = past
    db.add(assignment)
    db.commit()
    reply_due = as_utc(assignment.reply_due_at)
    login(make_user("taskforce"))
    _save_day(client, to_cst(reply_due).date(), False, "临时放假")
    kept = _assignment(db, report)
    assert abs(as_utc(kept.acknowledge_due_at) - past) < timedelta(seconds=1)
    assert as_utc(kept.reply_due_at) > reply_due

    other = file_report(app, db, campaign_id, phone="13900005555")
    closed = db.get(Report, other.id)
    closed.status = S.closed
    db.commit()
    closed_due = as_utc(_assignment(db, other).reply_due_at)
    _save_day(client, to_cst(closed_due).date(), False, "临时放假")
    assert as_utc(_assignment(db, other).reply_due_at) == closed_due
    forget_calendar()


def test_an_imported_holiday_moves_open_deadlines_too(app, db, campaign_id, tmp_path):
    report = file_report(app, db, campaign_id)
    reply_due = as_utc(_assignment(db, report).reply_due_at)
    day = to_cst(reply_due).date()
    path = tmp_path / "cal.yaml"
    path.write_text(f"years:\n  {day.year}:\n    days:\n"
                    f"      - {{date: {day.isoformat()}, workday: false, note: 临时放假}}\n",
                    encoding="utf-8")
    result = app.test_cli_runner().invoke(args=["routing", "calendar", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 open clue(s): deadlines counted again" in result.output
    assert as_utc(_assignment(db, report).reply_due_at) > reply_due
    forget_calendar()


def _current(db, report: Report) -> Assignment:
    return _assignment(db, report)


def test_a_warning_is_owed_again_before_a_deadline_that_moved_later(app, db, campaign_id,
                                                                    make_user):
    from routing import transitions
    from routing.deadlines import move_open_deadlines
    from routing.models import CalendarOverride, Escalation
    from routing.sweep import sweep

    services = app.extensions["intake"]
    report = file_report(app, db, campaign_id)
    transitions.acknowledge(db, services, report.id, make_user("unit", unit_code="hzq"))
    db.commit()
    due = as_utc(_current(db, report).reply_due_at)
    noon = due - timedelta(hours=12)
    assert [e[2] for e in sweep(db, services, now=noon).escalations] == ["warning"]
    db.commit()
    before = build_calendar(db)
    db.add(CalendarOverride(day=to_cst(due).date(), workday=False, note="临时放假"))
    db.flush()
    assert move_open_deadlines(db, before, now=noon) == 1
    db.commit()
    forget_calendar()
    new_due = as_utc(_current(db, report).reply_due_at)
    assert new_due > due
    assert [e[2] for e in sweep(db, services, now=new_due - timedelta(hours=12)).escalations] \
        == ["warning"]  # the yellow card before the new deadline, not straight to 催办
    db.commit()
    assert db.exec(select(Escalation).where(Escalation.report_id == report.id)).all()
    forget_calendar()


def test_brought_closer_a_deadline_still_leaves_the_next_working_day(app, db, campaign_id):
    from routing.deadlines import move_open_deadlines
    from routing.models import CalendarOverride

    report = file_report(app, db, campaign_id)
    assignment = _current(db, report)
    wednesday = date(2027, 3, 10)
    wrong = (wednesday + timedelta(days=1), wednesday + timedelta(days=2))  # Thu, Fri
    for day in wrong:
        db.add(CalendarOverride(day=day, workday=False, note="误录"))
    db.flush()
    before = build_calendar(db)
    start = datetime(2027, 3, 10, 2, 0, tzinfo=UTC)  # Wednesday 10:00 CST
    assignment.dispatched_at = start
    assignment.acknowledge_due_at = before.add_working_days(start, 1)  # Monday 15th
    assignment.return_due_at = before.add_working_days(start, 2)
    assignment.reply_due_at = before.add_working_days(start, 10)
    db.add(assignment)
    db.flush()
    for day in wrong:
        db.get(CalendarOverride, day).workday = True  # corrected on Saturday the 13th
    db.flush()
    saturday = datetime(2027, 3, 13, 4, 0, tzinfo=UTC)  # noon CST
    move_open_deadlines(db, before, now=saturday)
    db.commit()
    moved = _current(db, report)
    after = build_calendar(db)
    for due in (moved.acknowledge_due_at, moved.return_due_at):
        day = to_cst(as_utc(due)).date()
        assert after.is_workday(day) and day == date(2027, 3, 15)  # not Saturday night
    forget_calendar()


def test_a_clue_in_review_is_counted_again_so_a_reply_sent_back_keeps_a_working_day(
        app, db, campaign_id, make_user):
    from routing import transitions
    from routing.deadlines import move_open_deadlines
    from routing.models import CalendarOverride

    services = app.extensions["intake"]
    report = file_report(app, db, campaign_id)
    unit_user = make_user("unit", unit_code="hzq")
    transitions.acknowledge(db, services, report.id, unit_user)
    transitions.reply(db, services, report.id, unit_user, finding="属实", measures="已整改",
                      public_text="已整改。")
    db.commit()
    due = as_utc(_current(db, report).reply_due_at)
    before = build_calendar(db)
    db.add(CalendarOverride(day=to_cst(due).date(), workday=False, note="临时放假"))
    db.flush()
    assert move_open_deadlines(db, before) == 1
    db.commit()
    forget_calendar()
    transitions.review(db, services, report.id, make_user("taskforce"), approve=False,
                       note="请补充证据")
    db.commit()
    day = to_cst(as_utc(_current(db, report).reply_due_at)).date()
    assert build_calendar(db).is_workday(day) and day > to_cst(due).date()
    forget_calendar()
