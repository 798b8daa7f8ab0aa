"""Importing the holiday table (`flask routing calendar import`) and renaming a unit.

An import of a few days does not make a year complete unless the file says so, a broken
file is refused with a message instead of a traceback, and every import is audited.
A unit renamed (or deactivated) while the routing rules are cached still gets, or clearly
does not get, the clues its rules send it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlmodel import select

from intake.models import Event, Report
from intake.models import ReportStatus as S
from routing import dispatch as routing_dispatch
from routing.calendar import WorkCalendar
from routing.deadlines import forget_calendar, import_overrides, mark_year, work_calendar
from routing.dispatch import forget_rules
from routing.models import Assignment, CalendarOverride, Unit
from tests.support.flow import file_report, unit_id

YEAR = 2031  # a year the `holidays` package has no official table for
ONE_DAY = f"years:\n  {YEAR}:\n    days:\n      - {{date: {YEAR}-02-06, workday: false, note: 春节}}\n"
HZ_RULE = "湟中区交湟中区交通运输局"  # the demo campaign's rule for 湟中区


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cal.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _import(app, path: Path):
    return app.test_cli_runner().invoke(args=["routing", "calendar", "import", str(path)])


def _calendar(db):
    db.commit()  # end the read transaction: SQLite would keep its old snapshot
    forget_calendar()
    return work_calendar(db)


# -- calendar import ----------------------------------------------------------------------


def test_importing_some_days_of_a_year_keeps_its_warning(app, db, tmp_path):
    result = _import(app, _write(tmp_path, ONE_DAY))
    assert result.exit_code == 0, result.output
    assert "1 calendar days added or changed" in result.output
    assert f"{YEAR}: not marked as published" in result.output
    calendar = _calendar(db)
    assert not calendar.is_workday(date(YEAR, 2, 6))  # the day itself is taken
    assert not calendar.is_year_published(YEAR)
    assert calendar.warning_for(date(YEAR, 6, 1)) == (
        f"{YEAR}年法定节假日安排尚未录入，期限按周末及预估节假日计算，可能不准确")


def test_a_file_that_says_published_marks_the_year_complete(app, db, tmp_path):
    text = ONE_DAY.replace(f"  {YEAR}:\n", f"  {YEAR}:\n    published: true\n")
    result = _import(app, _write(tmp_path, text))
    assert result.exit_code == 0, result.output
    assert _calendar(db).warning_for(date(YEAR, 6, 1)) is None


def test_a_correction_without_the_flag_keeps_a_complete_year_complete(app, db, tmp_path):
    mark_year(db, YEAR, True, f"国务院办公厅关于{YEAR}年部分节假日安排的通知")
    db.commit()
    result = _import(app, _write(tmp_path, ONE_DAY))
    assert result.exit_code == 0, result.output
    assert _calendar(db).is_year_published(YEAR)


def test_the_table_file_alone_needs_the_flag_too(tmp_path):
    calendar = WorkCalendar.from_file(_write(tmp_path, ONE_DAY))
    assert not calendar.is_workday(date(YEAR, 2, 6))
    assert calendar.warning_for(date(YEAR, 6, 1)) is not None
    # A correction to a year the package knows officially does not lose that knowledge.
    fix = "years:\n  2026:\n    days:\n      - {date: 2026-03-02, workday: false}\n"
    assert WorkCalendar.from_file(_write(tmp_path, fix)).warning_for(date(2026, 6, 1)) is None


@pytest.mark.parametrize(("text", "message"), [
    (f"years:\n  {YEAR}:\n    days:\n      - {{date: {YEAR}-01-01, workday: false\n",
     "not valid YAML at line 5"),
    (f"years:\n  {YEAR}:\n    - {{date: {YEAR}-01-01, workday: false}}\n",
     f"year {YEAR} must be a mapping"),
    (f"years:\n  {YEAR}:\n    published: yes please\n", f"'published' of {YEAR} must be true"),
    (f"years:\n  {YEAR}:\n    days: {{date: {YEAR}-01-01, workday: false}}\n",
     f"'days' of {YEAR} must be a list"),
    (f"years:\n  {YEAR}:\n    publshed: true\n", "unknown key(s)"),
    (f"- {YEAR}\n", "expected a mapping with a 'years' key"),
    ("years:\n  next:\n    days: []\n", "'next' is not a year"),
    (f"years:\n  {YEAR}:\n    days:\n      - {YEAR}-01-01\n", f"bad entry in {YEAR}"),
])
def test_a_broken_file_is_refused_with_a_message(app, db, tmp_path, text, message):
    path = _write(tmp_path, text)
    result = _import(app, path)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception  # not a traceback
    assert "calendar not imported" in result.output and message in result.output
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        import_overrides(db, path)
    db.rollback()
    assert db.exec(select(CalendarOverride).where(
        CalendarOverride.day >= date(YEAR, 1, 1))).all() == []
    assert db.exec(select(Event).where(Event.kind == "calendar_imported")).all() == []


def test_an_import_is_audited_like_a_day_saved_on_the_page(app, db, tmp_path):
    text = ONE_DAY + "  2032:\n    published: false\n"
    assert _import(app, _write(tmp_path, text)).exit_code == 0
    assert _import(app, _write(tmp_path, text)).exit_code == 0  # again: nothing changes
    db.commit()
    events = db.exec(select(Event).where(Event.kind == "calendar_imported")
                     .order_by(Event.id)).all()
    assert [e.data["changed_days"] for e in events] == [1, 0]
    assert events[0].report_id is None and events[0].data["years"] == [YEAR, 2032]
    assert events[0].data["published"] == {"2032": False}


# -- renaming or deactivating a unit ------------------------------------------------------


def _current_unit(db, report: Report) -> int | None:
    return db.exec(select(Assignment.unit_id).where(Assignment.report_id == report.id,
                                                    Assignment.is_current == True)  # noqa: E712
                   ).first()


def _triage_reason(db, report: Report) -> str | None:
    return db.exec(select(Event.note).where(Event.report_id == report.id,
                                            Event.kind == "triage_reason")).first()


def test_a_renamed_unit_keeps_getting_its_clues(app, db, campaign_id):
    first = file_report(app, db, campaign_id)  # also fills the rules cache
    assert first.status is S.dispatched
    hzq = unit_id(db, "hzq")
    unit = db.get(Unit, hzq)
    unit.name = "西宁市湟中区交通运输局"  # what the admin's unit page does (no cache refresh)
    db.commit()
    second = file_report(app, db, campaign_id, phone="13900002222", name="王五",
                         text="湟中区鲁沙尔镇的运政执法人员收了罚款不开票据，还态度蛮横辱骂司机。")
    db.commit()
    db.expire_all()
    assert db.get(Report, second.id).status is S.dispatched, _triage_reason(db, second)
    assert _current_unit(db, second) == hzq


@pytest.mark.parametrize("cached", [True, False])
def test_a_rule_for_a_deactivated_unit_says_so_in_triage(app, db, campaign_id, client,
                                                         make_user, login, cached):
    file_report(app, db, campaign_id)  # fills the rules cache
    unit = db.get(Unit, unit_id(db, "hzq"))
    unit.is_active = False
    db.commit()
    if not cached:
        forget_rules()
    report = file_report(app, db, campaign_id, phone="13900003333")
    db.commit()
    db.expire_all()
    assert db.get(Report, report.id).status is S.triage
    reason = ("规则“湟中区交湟中区交通运输局”指定的责任单位“湟中区交通运输局”已停用，"
              "线索未自动转办，请人工分拣并修改该规则。")
    assert _triage_reason(db, report) == reason
    login(make_user("taskforce"))
    assert reason in client.get("/taskforce/triage").get_data(as_text=True)


def test_a_rule_whose_unit_is_gone_says_so_in_triage(app, db, campaign_id, monkeypatch):
    rules = routing_dispatch._load_rules(db, campaign_id)
    for rule in rules:
        if rule["name"] == HZ_RULE:
            rule["unit_id"] = 999_999  # a unit deleted behind the rules' back
    monkeypatch.setattr(routing_dispatch, "rules_for", lambda session, cid: rules)
    report = file_report(app, db, campaign_id)
    db.expire_all()
    assert db.get(Report, report.id).status is S.triage
    assert _triage_reason(db, report) == (
        f"规则“{HZ_RULE}”指定的责任单位已不存在，线索未自动转办，请人工分拣并修改该规则。")



def test_a_renamed_unit_whose_leadership_is_accused_never_gets_the_clue(app, db, campaign_id):
    text = "湟中区交通运输局局长纵容多巴镇的运政执法人员乱罚款不开票据，请上级查处。"
    before = file_report(app, db, campaign_id, text=text)
    db.expire_all()
    assert db.get(Report, before.id).status is S.triage  # the conflict-of-interest rule
    unit = db.get(Unit, unit_id(db, "hzq"))
    unit.name = "西宁市湟中区交通运输局"  # renamed in the admin; the data files keep the old name
    db.commit()
    after = file_report(app, db, campaign_id, text=text, phone="13900004444")
    db.commit()
    db.expire_all()
    assert db.get(Report, after.id).status is S.triage
    assert "conflict of interest" in (_triage_reason(db, after) or "")
    assert _current_unit(db, after) is None
