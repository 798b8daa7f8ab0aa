"""Which reports a unit may see: those forwarded to it that it did not return as not its own.

One rule for the unit pages, attachments, the staff API and search, and which of their
events a unit sees. A unit that returned a
clue (退回) loses sight of it: it may be the unit accused, misrouted.
"""

from __future__ import annotations

from sqlmodel import Session, select

from routing.models import Assignment

# The events of its clues a unit sees (pages and staff API); the rest is the task force's.
UNIT_EVENTS = frozenset({
    "dispatched", "acknowledged", "returned", "extension_requested", "extension_approved",
    "extension_refused", "replied", "reply_rejected", "reply_approved", "rated", "reopened",
    "closed", "escalated_warning", "escalated_reminder", "escalated_supervision",
    "escalated_listed", "deadline_moved"})


def unit_report_ids(unit_id: int | None):
    """A subquery of the report ids the unit may see (for `Report.id.in_(...)`)."""
    return select(Assignment.report_id).where(Assignment.unit_id == unit_id,
                                              Assignment.returned_at.is_(None))


def unit_assignment(session: Session, report_id: int, unit_id: int | None) -> Assignment | None:
    """The unit's latest assignment of the report that it did not return, or None."""
    return session.exec(select(Assignment).where(
        Assignment.report_id == report_id, Assignment.unit_id == unit_id,
        Assignment.returned_at.is_(None)).order_by(Assignment.id.desc())).first()
