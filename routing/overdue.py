"""When a clue with a unit is late: one definition for the sweep, the unit inbox, the
dashboard and the staff API.

A clue not yet signed (dispatched, reopened) is due for 签收 by its acknowledge deadline;
once signed it is due for 办结回复 by its reply deadline. Only clues with the unit count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from intake.models import Report
from intake.models import ReportStatus as S
from notices.timeutil import utcnow
from routing.deadlines import UNSIGNED, assignment_due
from routing.models import Assignment
from routing.transitions import WITH_UNIT


def is_overdue(status: S | str, assignment: Assignment, now: datetime) -> bool:
    return S(status) in WITH_UNIT and assignment_due(status, assignment)[1] < now


def overdue_conditions(now: datetime | None = None) -> list[Any]:
    """The SQL twin of `is_overdue` over Report joined to its current Assignment."""
    now = now or utcnow()
    return [
        Assignment.is_current == sa.true(),
        Assignment.report_id == Report.id,
        Report.status.in_(WITH_UNIT),
        sa.or_(sa.and_(Report.status.in_(UNSIGNED), Assignment.acknowledge_due_at < now),
               sa.and_(Report.status.not_in(UNSIGNED), Assignment.reply_due_at < now)),
    ]
