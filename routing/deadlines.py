"""Deadlines of a campaign on the working-day calendar (holidays package + override table)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, select

from intake.models import Event, Report
from intake.models import ReportStatus as S
from notices.models import Campaign
from notices.timeutil import as_utc, to_cst, utcnow
from routing.calendar import (
    DEFAULT_CALENDAR_FILE,
    WorkCalendar,
    end_of_day_utc,
    package_published_years,
    read_table,
)
from routing.models import (
    Assignment,
    CalendarOverride,
    CalendarYear,
    Escalation,
    EscalationLevel,
)

DEFAULTS = {
    "dispatch_days": 1, "acknowledge_days": 1, "return_window_days": 2,
    "reply_days": {"complaint": 10, "tip": 10, "inquiry": 3},
    "extension_max_days": 10, "extension_request_cutoff": "17:00", "feedback_days": 3,
    "warning_days_before": 1, "supervision_after_days": 2, "listed_after_days": 5,
}
UNSIGNED = frozenset({S.dispatched, S.reopened})
# States in which a unit holds the clue and its deadlines run.
WITH_UNIT = frozenset({S.dispatched, S.reopened, S.acknowledged, S.rejected_reply})
DUE_FIELDS = ("acknowledge_due_at", "return_due_at", "reply_due_at")
_CACHE_SECONDS = 60.0
_cache: dict[str, tuple[float, WorkCalendar]] = {}
_lock = threading.Lock()


def settings(campaign: Campaign) -> dict:
    """The campaign's deadline settings over the defaults of DESIGN.md."""
    merged = {**DEFAULTS, **(campaign.deadlines or {})}
    merged["reply_days"] = {**DEFAULTS["reply_days"], **(campaign.deadlines or {}).get(
        "reply_days", {})}
    return merged


def reply_days(campaign: Campaign, kind: str | None) -> int:
    days = settings(campaign)["reply_days"]
    return int(days.get(kind or "complaint", days["complaint"]))


def work_calendar(session: Session) -> WorkCalendar:
    """The calendar from the override table, rebuilt at most once a minute per process."""
    key = str(session.get_bind().url)
    now = time.monotonic()
    with _lock:
        hit = _cache.get(key)
        if hit and now - hit[0] < _CACHE_SECONDS:
            return hit[1]
    calendar = build_calendar(session)
    with _lock:
        _cache[key] = (now, calendar)
    return calendar


def build_calendar(session: Session) -> WorkCalendar:
    """The calendar as the override table stands in this transaction (no cache)."""
    rows = session.exec(select(CalendarOverride)).all()
    flags = {y.year: y.published for y in session.exec(select(CalendarYear))}
    # A year counts as published when it is marked so, not because some of its days were
    # entered; the `holidays` package's own official years stay known.
    marked = {y for y, done in flags.items() if done}
    official = package_published_years()
    unpublished = ({r.day.year for r in rows} - marked - official) | (set(flags) - marked)
    return WorkCalendar({r.day: r.workday for r in rows}, official | marked,
                        notes={r.day: r.note for r in rows if r.note},
                        unpublished_years=unpublished)


def forget_calendar() -> None:
    with _lock:
        _cache.clear()


def move_open_deadlines(session: Session, before: WorkCalendar, *,
                        now: datetime | None = None) -> int:
    """Count the deadlines still ahead again, after the holiday table changed.

    A deadline is the end of the n-th working day after dispatch: it keeps its n, counted
    on the new calendar, so a day that became a holiday moves it later and a new make-up
    working day brings it closer (never before the end of the next working day). Clues in
    review count too (a reply sent back keeps the deadline). Returns how many clues moved;
    each gets a `deadline_moved` event with the old and new times.
    """
    after = build_calendar(session)
    now = as_utc(now) if now is not None else utcnow()
    # Brought closer, a deadline still leaves the unit the next working day in full.
    floor = end_of_day_utc(after.next_workday(to_cst(now).date() + timedelta(days=1)))
    open_assignments = session.exec(
        select(Assignment).join(Report, Report.id == Assignment.report_id)
        .where(Assignment.is_current == True,  # noqa: E712
               Report.status.in_(WITH_UNIT | {S.replied}))).all()  # a reply may come back
    moved = 0
    for assignment in open_assignments:
        start = as_utc(assignment.dispatched_at)
        changes = {}
        reply_later = False
        for name in DUE_FIELDS:
            due = as_utc(getattr(assignment, name))
            if due <= now:
                continue  # already passed: what was owed then stays owed
            new = after.add_working_days(start, before.working_days_counted(start, due))
            if new < due:
                new = max(new, min(due, floor))
            if new != due:
                setattr(assignment, name, new)
                changes[name] = [due.isoformat(), new.isoformat()]
                reply_later = reply_later or (name == "reply_due_at" and new > due)
        if changes:
            session.add(Event(report_id=assignment.report_id, kind="deadline_moved",
                              public=False, data=changes))
            moved += 1
        if reply_later:
            # A later deadline is a new one: its 预警 is owed again before it.
            for warned in session.exec(select(Escalation).where(
                    Escalation.assignment_id == assignment.id,
                    Escalation.level == EscalationLevel.warning,
                    Escalation.due_kind.in_(("reply", "reply_extended")))):
                session.delete(warned)
    session.flush()
    return moved


@dataclass(frozen=True)
class CalendarImport:
    """What an import of the override table changed."""

    years: tuple[int, ...]  # the years the file lists
    changed_days: int  # days added or changed
    marked: dict[int, bool] = field(default_factory=dict)  # years the file marks, as marked
    moved_deadlines: int = 0  # open clues whose deadlines were counted again


def import_calendar(session: Session, path: Path = DEFAULT_CALENDAR_FILE, *,
                    keep_existing: bool = False) -> CalendarImport:
    """Upsert holidays and make-up working days from a YAML file like cn-calendar.yaml.

    Entering days does not make a year complete: a year is marked published (or not) only
    when the file says ``published: true`` (or ``false``); without the key its mark stays
    as it is, and a year never marked keeps its warning. `keep_existing` (seeding) only
    adds days and year marks the table does not have yet, so the task force's edits on the
    calendar page stay.

    :raise ValueError: on a malformed or self-contradicting file (nothing is written).
    """
    table = read_table(path)  # checks the whole file before anything is written
    before = build_calendar(session)
    existing = {r.day: r for r in session.exec(select(CalendarOverride))}
    changes = 0
    marked: dict[int, bool] = {}
    for year, spec in table.items():
        source = spec.source[:255]
        known = session.get(CalendarYear, year)
        if keep_existing and known is not None:
            pass
        elif spec.published is not None:
            mark_year(session, year, spec.published, source)
            marked[year] = spec.published
        elif source and known is not None:
            mark_year(session, year, known.published, source)
        for entry in spec.days:
            note = entry.note[:64]
            row = existing.get(entry.day)
            if keep_existing and row is not None:
                continue
            if row is None:
                row = CalendarOverride(day=entry.day, workday=entry.workday, note=note)
                session.add(row)
                existing[entry.day] = row
                changes += 1
            elif (row.workday, row.note) != (entry.workday, note):
                row.workday, row.note = entry.workday, note
                changes += 1
    session.flush()
    moved = move_open_deadlines(session, before) if changes else 0
    forget_calendar()
    return CalendarImport(tuple(table), changes, marked, moved)


def import_overrides(session: Session, path: Path = DEFAULT_CALENDAR_FILE, *,
                     keep_existing: bool = True) -> int:
    """:func:`import_calendar` for seeding (by default only what is missing is added),
    answering the number of days added or changed."""
    return import_calendar(session, path, keep_existing=keep_existing).changed_days


def mark_year(session: Session, year: int, published: bool, source: str = "") -> bool:
    """Record whether `year`'s schedule is complete; True if that changed anything."""
    row = session.get(CalendarYear, year)
    if row is not None and row.published == published and (row.source == source or not source):
        return False
    if row is None:
        session.add(CalendarYear(year=year, published=published, source=source))
    else:
        row.published, row.source = published, source or row.source
    session.flush()
    forget_calendar()
    return True


def due(session: Session, start: datetime, days: int) -> datetime:
    return work_calendar(session).add_working_days(start, days)




def due_for(status: S | str, acknowledge_due_at: datetime, reply_due_at: datetime, *,
            extended: bool = False) -> tuple[str, datetime]:
    """(kind, the deadline of an assignment that applies now): "acknowledge" before the unit
    signs, then "reply", or "reply_extended" once an extension moved the reply deadline —
    a new deadline, whose 预警 and 催办 are owed again."""
    if S(status) in UNSIGNED:
        return "acknowledge", as_utc(acknowledge_due_at)
    return ("reply_extended" if extended else "reply"), as_utc(reply_due_at)


def assignment_due(status: S | str, assignment: Any) -> tuple[str, datetime]:
    """`due_for` of an assignment, an approved extension included."""
    return due_for(status, assignment.acknowledge_due_at, assignment.reply_due_at,
                   extended=assignment.extension_decision == "approved")
