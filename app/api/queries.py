"""What the staff API reads, scoped like the pages: plain functions over a session.

Desk roles (task force, admin) see every report; a unit's staff see only reports that
were assigned to their unit, and only their own assignments and replies. No function
here reads the Reporter table: no response can carry reporter PII.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlmodel import Session, select

from app.models import User
from intake.models import Event, Report
from intake.models import ReportStatus as S
from notices.timeutil import iso_cst, utcnow
from routing.models import Assignment, Escalation, Reply, Unit
from routing.overdue import is_overdue
from routing.scope import UNIT_EVENTS, unit_assignment, unit_report_ids
from routing.transitions import OPEN, WITH_UNIT, current_assignment
from routing.web import unit_text

DESK = frozenset({"taskforce", "admin"})
READERS = DESK | {"unit"}
MAX_LIMIT = 200
HIDDEN_FROM_DESK = frozenset({"pii_revealed"})


class NotFound(LookupError):
    pass


class Forbidden(PermissionError):
    pass


def _role(user: User) -> str:
    return getattr(user.role, "value", user.role)


def is_desk(user: User) -> bool:
    return _role(user) in DESK


def _unit_names(session: Session) -> dict[int, str]:
    return {u.id: u.name for u in session.exec(select(Unit))}


def assignment_dict(a: Assignment, units: dict[int, str]) -> dict[str, Any]:
    return {
        "id": a.id, "report_id": a.report_id, "unit_id": a.unit_id,
        "unit": units.get(a.unit_id), "round": a.round, "is_current": a.is_current,
        "dispatched_at": iso_cst(a.dispatched_at), "acknowledge_due_at": iso_cst(a.acknowledge_due_at),
        "return_due_at": iso_cst(a.return_due_at), "reply_due_at": iso_cst(a.reply_due_at),
        "acknowledged_at": iso_cst(a.acknowledged_at), "returned_at": iso_cst(a.returned_at),
        "replied_at": iso_cst(a.replied_at),
        "extension_requested_at": iso_cst(a.extension_requested_at),
        "extension_days": a.extension_days, "extension_decision": a.extension_decision,
    }


def report_dict(report: Report, assignment: Assignment | None,
                units: dict[int, str], text: str | None = None) -> dict[str, Any]:
    return {
        "id": report.id, "tracking_no": report.tracking_no, "status": report.status.value,
        "channel": report.channel.value, "received_at": iso_cst(report.received_at),
        "updated_at": iso_cst(report.updated_at), "closed_at": iso_cst(report.closed_at),
        "text": report.text if text is None else text, "place_text": report.place_text, "district": report.district,
        "occurred_text": report.occurred_text, "plate": report.plate,
        "latitude": report.latitude, "longitude": report.longitude,
        "kind": report.kind.value if report.kind else None, "category": report.category,
        "items": [int(i) for i in report.items or [] if str(i).isdigit()],
        "current_assignment": assignment_dict(assignment, units) if assignment else None,
    }


def _text_for(session: Session, user: User, report: Report) -> str | None:
    """Units read the text with the reporter's own details masked (None: the full text)."""
    if is_desk(user):
        return None
    return unit_text(session, report, current_app.extensions["pii"])


def _scoped(query: Any, user: User) -> Any:
    if is_desk(user):
        return query if user.campaign_id is None else query.where(
            Report.campaign_id == user.campaign_id)
    return query.where(Report.id.in_(unit_report_ids(user.unit_id)))


def _statuses(values: list[str] | None) -> list[S]:
    result = []
    for value in values or []:
        try:
            result.append(S(value))
        except ValueError:
            raise ValueError(f"unknown status {value!r}") from None
    return result


def list_reports(session: Session, user: User, *, status: list[str] | None = None,
                 unit_id: int | None = None, limit: int = 50,
                 offset: int = 0) -> dict[str, Any]:
    """A page of reports, newest first. :raise ValueError: on an unknown status."""
    query = _scoped(select(Report), user)
    statuses = _statuses(status)
    if statuses:
        query = query.where(Report.status.in_(statuses))
    if unit_id is not None and is_desk(user):  # a unit's own scope is fixed
        current = select(Assignment.report_id).where(Assignment.unit_id == unit_id,
                                                     Assignment.is_current == True)  # noqa: E712
        query = query.where(Report.id.in_(current))
    total = session.exec(select(sa.func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Report.received_at.desc(), Report.id.desc())
                        .limit(max(1, min(limit, MAX_LIMIT))).offset(max(0, offset))).all()
    units = _unit_names(session)
    currents = _current_assignments(session, [r.id for r in rows])
    visible = [report_dict(r, _visible(user, currents.get(r.id)), units,
                           _text_for(session, user, r)) for r in rows]
    return {"total": total, "limit": limit, "offset": offset, "reports": visible}


def _current_assignments(session: Session, report_ids: list[int]) -> dict[int, Assignment]:
    if not report_ids:
        return {}
    rows = session.exec(select(Assignment).where(Assignment.report_id.in_(report_ids),
                                                 Assignment.is_current == True)  # noqa: E712
                        .order_by(Assignment.id)).all()
    return {a.report_id: a for a in rows}


def _visible(user: User, assignment: Assignment | None) -> Assignment | None:
    """A unit sees the current assignment only when it is theirs."""
    if assignment is None or is_desk(user) or assignment.unit_id == user.unit_id:
        return assignment
    return None


def load_report(session: Session, user: User, report_id: int) -> Report:
    """The report if this user may see it. :raise NotFound, Forbidden:"""
    report = session.get(Report, report_id)
    if report is None or (user.campaign_id is not None
                          and report.campaign_id != user.campaign_id):
        raise NotFound("no such report")
    if not is_desk(user) and unit_assignment(session, report_id, user.unit_id) is None:
        raise Forbidden("this report was not assigned to your unit")
    return report


def report_detail(session: Session, user: User, report_id: int) -> dict[str, Any]:
    report = load_report(session, user, report_id)
    units = _unit_names(session)
    data = report_dict(report, _visible(user, current_assignment(session, report.id)), units,
                       _text_for(session, user, report))
    assignments = session.exec(select(Assignment).where(Assignment.report_id == report.id)
                               .order_by(Assignment.id)).all()
    if not is_desk(user):
        assignments = [a for a in assignments if a.unit_id == user.unit_id]
    own = {a.id for a in assignments}
    replies = session.exec(select(Reply).where(Reply.report_id == report.id)
                           .order_by(Reply.id)).all()
    events = session.exec(select(Event).where(Event.report_id == report.id)
                          .order_by(Event.at, Event.id)).all()
    allowed = (lambda kind: kind not in HIDDEN_FROM_DESK) if is_desk(user) \
        else (lambda kind: kind in UNIT_EVENTS)
    data["assignments"] = [assignment_dict(a, units) for a in assignments]
    data["replies"] = [{
        "id": r.id, "assignment_id": r.assignment_id, "finding": r.finding.value,
        "measures": r.measures, "accountability": r.accountability,
        "public_text": r.public_text, "created_at": iso_cst(r.created_at),
        "review_status": r.review_status.value, "reviewed_at": iso_cst(r.reviewed_at),
        "review_note": r.review_note} for r in replies if r.assignment_id in own]
    data["history"] = [{"at": iso_cst(e.at), "kind": e.kind, "note": e.note, "public": e.public}
                       for e in events if allowed(e.kind)]
    return data


def list_assignments(session: Session, user: User, *, current_only: bool = True,
                     unit_id: int | None = None, limit: int = 50,
                     offset: int = 0) -> dict[str, Any]:
    query = select(Assignment, Report).join(Report, Report.id == Assignment.report_id)
    if user.campaign_id is not None:
        query = query.where(Report.campaign_id == user.campaign_id)
    if not is_desk(user):
        query = query.where(Assignment.unit_id == user.unit_id)
    elif unit_id is not None:
        query = query.where(Assignment.unit_id == unit_id)
    if current_only:
        query = query.where(Assignment.is_current == True)  # noqa: E712
    total = session.exec(select(sa.func.count()).select_from(query.subquery())).one()
    rows = session.exec(query.order_by(Assignment.reply_due_at, Assignment.id)
                        .limit(max(1, min(limit, MAX_LIMIT))).offset(max(0, offset))).all()
    units = _unit_names(session)
    items = []
    for assignment, report in rows:
        entry = assignment_dict(assignment, units)
        entry.update(tracking_no=report.tracking_no, status=report.status.value)
        items.append(entry)
    return {"total": total, "limit": limit, "offset": offset, "assignments": items}


def assignment_detail(session: Session, user: User, assignment_id: int) -> dict[str, Any]:
    assignment = session.get(Assignment, assignment_id)
    if assignment is None:
        raise NotFound("no such assignment")
    if not is_desk(user) and assignment.unit_id != user.unit_id:
        raise Forbidden("this assignment belongs to another unit")
    report = session.get(Report, assignment.report_id)
    if user.campaign_id is not None and report.campaign_id != user.campaign_id:
        raise NotFound("no such assignment")
    entry = assignment_dict(assignment, _unit_names(session))
    entry.update(tracking_no=report.tracking_no, status=report.status.value)
    return entry


def dashboard(session: Session, user: User) -> dict[str, Any]:
    """Counts by status, and per unit: open, overdue, escalated (a unit sees only itself)."""
    scoped = _scoped(select(Report.status), user)
    by_status = Counter(s.value for s in session.exec(scoped))
    now = utcnow()
    query = select(Assignment, Report.status).join(Report, Report.id == Assignment.report_id) \
        .where(Assignment.is_current == True)  # noqa: E712
    if user.campaign_id is not None:
        query = query.where(Report.campaign_id == user.campaign_id)
    if not is_desk(user):
        query = query.where(Assignment.unit_id == user.unit_id)
    units = _unit_names(session)
    per_unit: dict[int, dict[str, Any]] = {}
    for assignment, status in session.exec(query):
        row = per_unit.setdefault(assignment.unit_id, {
            "unit_id": assignment.unit_id, "unit": units.get(assignment.unit_id),
            "assigned": 0, "open": 0, "with_unit": 0, "overdue": 0})
        row["assigned"] += 1
        if status in OPEN:
            row["open"] += 1
        if status in WITH_UNIT:
            row["with_unit"] += 1
            if is_overdue(status, assignment, now):
                row["overdue"] += 1
    levels = select(Escalation.level, sa.func.count()).join(
        Report, Report.id == Escalation.report_id).group_by(Escalation.level)
    if user.campaign_id is not None:
        levels = levels.where(Report.campaign_id == user.campaign_id)
    escalations = session.exec(levels).all() if is_desk(user) else []
    return {
        "generated_at": iso_cst(now), "total": sum(by_status.values()),
        "by_status": {s.value: by_status.get(s.value, 0) for s in S},
        "open": sum(by_status.get(s.value, 0) for s in OPEN),
        "by_unit": sorted(per_unit.values(), key=lambda r: r["unit_id"]),
        "escalations": {getattr(level, "value", level): n for level, n in escalations},
    }
