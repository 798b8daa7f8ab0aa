"""The deadline sweep: warnings, 催办 → 督办 → 挂牌督办, and unrated closures. Idempotent.

Safe to run every minute: each (assignment, deadline, level) is recorded once, by a
unique constraint, and a message is queued only with the record that first creates it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlmodel import Session, select

from intake.models import Event, Report
from intake.models import ReportStatus as S
from intake.registration import IntakeServices
from notices.models import Campaign
from notices.timeutil import as_utc, utcnow
from routing import deadlines
from routing.models import Assignment, Escalation, EscalationLevel
from routing.transitions import SYSTEM, TransitionError, close_unrated, escalate


@dataclass
class SweepResult:
    escalations: list[tuple[str, str, str]] = field(default_factory=list)
    closed_unrated: list[str] = field(default_factory=list)


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
    rows = session.exec(select(Report, Assignment).join(
        Assignment, (Assignment.report_id == Report.id) & (Assignment.is_current == True))  # noqa: E712
        .where(Report.status.in_([S.dispatched, S.reopened, S.acknowledged, S.rejected_reply]))
    ).all()
    settings_by_campaign: dict[int, dict] = {}
    for report, assignment in rows:
        settings = settings_by_campaign.setdefault(
            report.campaign_id, deadlines.settings(session.get(Campaign, report.campaign_id)))
        if report.status in (S.dispatched, S.reopened):
            due_kind, due = "acknowledge", as_utc(assignment.acknowledge_due_at)
        else:
            due_kind, due = "reply", as_utc(assignment.reply_due_at)
        done = set(session.exec(select(Escalation.level).where(
            Escalation.assignment_id == assignment.id, Escalation.due_kind == due_kind)))
        wanted: list[EscalationLevel] = []
        if now <= due:
            if due_kind != "reply":  # a one-day acknowledge deadline needs no yellow card
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
