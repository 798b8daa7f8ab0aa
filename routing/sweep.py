"""The deadline sweep: clues left in triage past the dispatch deadline, warnings,
催办 → 督办 → 挂牌督办, and unrated closures. Idempotent.

Safe to run every minute: each (assignment, deadline, level) is recorded once, by a
unique constraint, and a message is queued only with the record that first creates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from intake.models import Event, Report
from intake.models import ReportStatus as S
from intake.registration import IntakeServices
from notices.db import begin_write
from notices.models import Campaign
from notices.timeutil import as_utc, utcnow
from routing import deadlines
from routing.deadlines import assignment_due
from routing.models import Assignment, Escalation, EscalationLevel
from routing.notify import notify_taskforce
from routing.transitions import (
    INTAKE,
    SYSTEM,
    WITH_UNIT,
    TransitionError,
    close_unrated,
    escalate,
)


@dataclass
class SweepResult:
    escalations: list[tuple[str, str, str]] = field(default_factory=list)
    closed_unrated: list[str] = field(default_factory=list)
    triage_overdue: list[str] = field(default_factory=list)


def _triage_overdue(session: Session, services: IntakeServices, calendar, now: datetime,
                    result: SweepResult) -> None:
    """Clues waiting for the task force (new, in triage, or returned by a unit) longer than
    `dispatch_days` working days since they arrived there: recorded once on the clue's
    history and mailed to the task force once per stay."""
    waiting = session.exec(select(Report).where(Report.status.in_(INTAKE))).all()
    flagged: dict[int, datetime] = {}
    for report_id, at in session.exec(select(Event.report_id, Event.at).where(
            Event.kind == "triage_overdue", Event.report_id.in_([r.id for r in waiting]))):
        flagged[report_id] = max(as_utc(at), flagged.get(report_id, as_utc(at)))
    for report in waiting:
        since = as_utc(report.updated_at or report.received_at)
        if report.id in flagged and flagged[report.id] >= since:
            continue
        settings = deadlines.settings(session.get(Campaign, report.campaign_id))
        if calendar.add_working_days(since, int(settings["dispatch_days"])) >= now:
            continue
        session.commit()  # end the read transaction: the record starts as a writer
        try:
            begin_write(session)
            # Row lock (PostgreSQL; SQLite's write lock already serialises): two sweeps
            # running at once record the stay once.
            session.exec(select(Report.id).where(Report.id == report.id).with_for_update())
            if session.exec(select(Event.id).where(Event.report_id == report.id,
                                                   Event.kind == "triage_overdue",
                                                   Event.at >= since)).first():
                session.rollback()
                continue
            session.add(Event(report_id=report.id, kind="triage_overdue",
                              data={"waiting_since": since.isoformat()}))
            notify_taskforce(session, services, report, purpose="triage_overdue",
                             text="线索超过分办时限仍未转办，请尽快分拣",
                             dedupe=f"triage_overdue:{report.id}:{report.version}")
            session.commit()
        except IntegrityError:  # a parallel sweep recorded it first
            session.rollback()
            continue
        result.triage_overdue.append(report.tracking_no)


def _level_for(overdue_days: int, settings: dict) -> list[EscalationLevel]:
    levels = []
    if overdue_days >= 1:
        levels.append(EscalationLevel.reminder)
    if overdue_days >= int(settings["supervision_after_days"]):
        levels.append(EscalationLevel.supervision)
    if overdue_days > int(settings["listed_after_days"]):
        levels.append(EscalationLevel.listed)
    return levels


def sweep(session: Session, services: IntakeServices, now: datetime | None = None) -> SweepResult:
    """Escalate what is late and close what waited too long for a rating; commits per report."""
    now = as_utc(now) if now else utcnow()
    calendar = deadlines.work_calendar(session)
    result = SweepResult()
    _triage_overdue(session, services, calendar, now, result)
    rows = session.exec(select(Report, Assignment).join(
        Assignment, (Assignment.report_id == Report.id) & (Assignment.is_current == True))  # noqa: E712
        .where(Report.status.in_(WITH_UNIT))
    ).all()
    settings_by_campaign: dict[int, dict] = {}
    for report, assignment in rows:
        settings = settings_by_campaign.setdefault(
            report.campaign_id, deadlines.settings(session.get(Campaign, report.campaign_id)))
        due_kind, due = assignment_due(report.status, assignment)
        done = set(session.exec(select(Escalation.level).where(
            Escalation.assignment_id == assignment.id, Escalation.due_kind == due_kind)))
        wanted: list[EscalationLevel] = []
        if now <= due:
            if due_kind == "acknowledge":  # a one-day deadline needs no yellow card
                continue
            warn_from = calendar.add_working_days(now, int(settings["warning_days_before"]))
            if due <= warn_from:
                wanted = [EscalationLevel.warning]
        else:
            wanted = _level_for(calendar.overdue_working_days(due, now), settings)
        for level in wanted:
            if level in done:
                continue
            session.commit()  # end the read transaction: the escalation starts as a writer
            try:
                made = escalate(session, services, report.id, SYSTEM, level=level,
                                due_kind=due_kind)
                session.commit()
            except TransitionError:
                session.rollback()
                continue
            if made is not None:
                done.add(level)
                result.escalations.append((report.tracking_no, due_kind, level.value))

    waiting = session.exec(select(Report).where(Report.status == S.awaiting_feedback)).all()
    for report in waiting:
        approved = session.exec(select(Event.at).where(Event.report_id == report.id,
                                                       Event.kind == "reply_approved")
                                .order_by(Event.at.desc())).first()
        settings = deadlines.settings(session.get(Campaign, report.campaign_id))
        if approved and calendar.add_working_days(as_utc(approved),
                                                  int(settings["feedback_days"])) < now:
            session.commit()
            try:
                close_unrated(session, services, report.id)
                session.commit()
                result.closed_unrated.append(report.tracking_no)
            except TransitionError:
                session.rollback()
    return result
