"""What the task force watches: counts, response times, satisfaction, overdue clues.

Plain functions over a session and a `Filters`. Counting is done in SQL (GROUP BY on
indexed columns); working-day medians and P90s fetch only the timestamps they need, as
epoch seconds, and compute with numpy (see `workdays`), never one Python loop per row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, select

from app.dashboard import sqlutil
from app.dashboard.filters import Filters
from app.dashboard.workdays import WorkClock, median_p90
from intake.models import Event, Report
from intake.models import ReportStatus as S
from notices.timeutil import utcnow
from routing import deadlines
from routing.deadlines import due_for
from routing.models import Assignment, Escalation, Feedback, Rating, Unit
from routing.overdue import overdue_conditions
from routing.transitions import WITH_UNIT

DIMENSIONS = ("status", "channel", "category", "district", "unit", "item")
LEVEL_RANK = {"warning": 1, "reminder": 2, "supervision": 3, "listed": 4}
RANK_LEVEL = {v: k for k, v in LEVEL_RANK.items()}
UNCLASSIFIED = "-"


def conditions(session: Session, f: Filters, *, with_unit: bool = True) -> list:
    conds = f.report_conditions(with_unit=with_unit)
    if f.item:
        conds.append(sqlutil.has_item(sqlutil.dialect(session), f.item))
    if f.overdue:
        conds.append(select(Assignment.id).where(*overdue_conditions())
                     .correlate_except(Assignment).exists())
    return conds


def _current_assignment_join():
    return sa.and_(Assignment.report_id == Report.id, Assignment.is_current == sa.true())


# -- counts ---------------------------------------------------------------------------

def counts(session: Session, f: Filters, dimension: str) -> list[tuple[str, int]]:
    """(key, count) for one dimension, largest first; NULL keys come back as "-"."""
    if dimension not in DIMENSIONS:
        raise ValueError(dimension)
    name = sqlutil.dialect(session)
    conds = conditions(session, f)
    n = sa.func.count()
    if dimension == "item":
        table = sqlutil.items_table(name)
        key = sqlutil.item_value(table, name)
        stmt = (select(key, n).select_from(Report).join(table, sa.true()).where(*conds)
                .group_by(key))
    elif dimension == "unit":
        stmt = (select(Assignment.unit_id, n).select_from(Report)
                .outerjoin(Assignment, _current_assignment_join()).where(*conds)
                .group_by(Assignment.unit_id))
    else:
        column = getattr(Report, dimension)
        stmt = select(column, n).where(*conds).group_by(column)
    rows = [(UNCLASSIFIED if k is None else getattr(k, "value", k), int(c))
            for k, c in session.execute(stmt).all()]
    return sorted(rows, key=lambda kv: (-kv[1], str(kv[0])))


def trend(session: Session, f: Filters, period: str = "day") -> list[tuple[str, int]]:
    name = sqlutil.dialect(session)
    day = sqlutil.cst_day(Report.received_at, name, "week" if period == "week" else "day")
    stmt = (select(day.label("d"), sa.func.count()).where(*conditions(session, f))
            .group_by(sa.literal_column("d")).order_by(sa.literal_column("d")))
    return [(str(d), int(c)) for d, c in session.execute(stmt).all()]


def total(session: Session, f: Filters) -> int:
    return int(session.execute(select(sa.func.count()).select_from(Report)
                               .where(*conditions(session, f))).scalar_one())


# -- response times -------------------------------------------------------------------

@dataclass
class Timing:
    key: str
    assignments: int = 0
    dispatch: tuple = (None, None, 0)
    acknowledge: tuple = (None, None, 0)
    reply: tuple = (None, None, 0)
    close: tuple = (None, None, 0)
    on_time: int = 0
    late: int = 0
    rated: int = 0
    satisfied: int = 0
    basically: int = 0
    unsatisfied: int = 0
    callbacks: int = 0
    approved: int = 0
    reopened: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def on_time_rate(self) -> float | None:
        judged = self.on_time + self.late
        return self.on_time / judged if judged else None

    @property
    def satisfaction(self) -> float | None:
        """满意率 as DESIGN.md defines it: (满意 + 0.9 × 基本满意) ÷ rated."""
        return (self.satisfied + 0.9 * self.basically) / self.rated if self.rated else None

    @property
    def satisfied_share(self) -> float | None:
        """(满意 + 基本满意) ÷ rated."""
        return (self.satisfied + self.basically) / self.rated if self.rated else None

    @property
    def response_rate(self) -> float | None:
        """响应率: call-backs that reached the citizen (a rating given) ÷ valid call-backs."""
        return self.rated / self.callbacks if self.callbacks else None

    @property
    def resolution_rate(self) -> float | None:
        """解决率: call-backs rated 满意 or 基本满意 ÷ valid call-backs."""
        return (self.satisfied + self.basically) / self.callbacks if self.callbacks else None

    @property
    def reopen_rate(self) -> float | None:
        return self.reopened / self.approved if self.approved else None


def _key_column(by: str):
    return Assignment.unit_id if by == "unit" else sa.func.coalesce(Report.category,
                                                                    UNCLASSIFIED)


def response_times(session: Session, f: Filters, by: str = "unit",
                   now: datetime | None = None) -> dict[str, Timing]:
    """Per unit (or category) and overall ("*"): medians/P90 in working days and rates."""
    now = now or utcnow()
    name = sqlutil.dialect(session)
    conds = conditions(session, f, with_unit=False)
    if f.unit_id:
        conds.append(Assignment.unit_id == f.unit_id)
    ep = lambda c: sqlutil.epoch(c, name)  # noqa: E731
    key = _key_column(by)
    open_with_unit = sa.case((Report.status.in_(WITH_UNIT), 1), else_=0)
    closed = sa.case((Report.status == S.closed, 1), else_=0)
    stmt = (select(key, Assignment.round, sa.case((Assignment.is_current == sa.true(), 1),
                                                  else_=0),
                   closed, open_with_unit,
                   sa.case((Assignment.returned_at.is_(None), 0), else_=1),
                   ep(Report.received_at), ep(Assignment.dispatched_at),
                   ep(Assignment.acknowledged_at), ep(Assignment.replied_at),
                   ep(Report.closed_at), ep(Assignment.reply_due_at))
            .select_from(Assignment).join(Report, Report.id == Assignment.report_id)
            .where(*conds))
    rows = session.execute(stmt).all()
    result: dict[str, Timing] = {}
    if rows:
        columns = list(zip(*rows, strict=True))
        keys = np.array([str(k) for k in columns[0]])
        num = np.array(columns[1:], dtype=np.float64)
        (round_, current, is_closed, is_open, returned,
         received, dispatched, acked, replied, closed_at, due) = num
        clock = WorkClock.covering(deadlines.work_calendar(session), received,
                                   np.array([now.timestamp()]))
        first = round_ == 1
        t_dispatch = np.where(first, clock.between(received, dispatched), np.nan)
        t_ack = clock.between(dispatched, acked)
        t_reply = clock.between(dispatched, replied)
        t_close = np.where((current == 1) & (is_closed == 1),
                           clock.between(received, closed_at), np.nan)
        has_reply = ~np.isnan(replied)
        on_time = has_reply & (replied <= due)
        late = (has_reply & (replied > due)) | (
            ~has_reply & (current == 1) & (is_open == 1) & (returned == 0)
            & (due < now.timestamp()))
        groups = [("*", np.ones(len(keys), dtype=bool))]
        groups += [(k, keys == k) for k in np.unique(keys)]
        for k, mask in groups:
            result[k] = Timing(
                key=k, assignments=int(mask.sum()),
                dispatch=median_p90(t_dispatch[mask]), acknowledge=median_p90(t_ack[mask]),
                reply=median_p90(t_reply[mask]), close=median_p90(t_close[mask]),
                on_time=int(on_time[mask].sum()), late=int(late[mask].sum()))
    _add_feedback(session, f, by, result)
    return result


def _group_key(by: str):
    return (Assignment.unit_id if by == "unit"
            else sa.func.coalesce(Report.category, UNCLASSIFIED)).label("k")


def _add_feedback(session: Session, f: Filters, by: str, result: dict[str, Timing]) -> None:
    conds = conditions(session, f)
    key = _group_key(by)
    latest = select(sa.func.max(Feedback.id)).group_by(Feedback.report_id)
    stmt = (select(key, Feedback.rating, sa.func.count()).select_from(Feedback)
            .join(Report, Report.id == Feedback.report_id)
            .outerjoin(Assignment, _current_assignment_join())
            .where(Feedback.id.in_(latest), *conds).group_by(key, Feedback.rating))
    for k, rating, n in session.execute(stmt).all():
        for target in (str(k), "*"):
            t = result.setdefault(target, Timing(key=target))
            t.callbacks += n
            rating = Rating(rating)
            if rating is not Rating.unrated:
                t.rated += n
            if rating is Rating.satisfied:
                t.satisfied += n
            elif rating is Rating.basically_satisfied:
                t.basically += n
            elif rating is Rating.unsatisfied:
                t.unsatisfied += n
    for kind, attr in (("reply_approved", "approved"), ("reopened", "reopened")):
        ids = select(Event.report_id).where(Event.kind == kind)
        stmt = (select(key, sa.func.count(sa.distinct(Report.id))).select_from(Report)
                .outerjoin(Assignment, _current_assignment_join())
                .where(Report.id.in_(ids), *conds).group_by(key))
        for k, n in session.execute(stmt).all():
            for target in (str(k), "*"):
                t = result.setdefault(target, Timing(key=target))
                setattr(t, attr, getattr(t, attr) + n)


# -- overdue --------------------------------------------------------------------------

def _level_subquery(report_ids: list[int] | None = None):
    rank = sa.case(*((Escalation.level == lv, r) for lv, r in LEVEL_RANK.items()), else_=0)
    stmt = (select(Escalation.assignment_id.label("aid"), sa.func.max(rank).label("rank"))
            .group_by(Escalation.assignment_id))
    if report_ids is not None:
        stmt = stmt.where(Escalation.report_id.in_(report_ids))
    return stmt.subquery("esc")


@dataclass
class OverdueRow:
    report_id: int
    tracking_no: str
    category: str | None
    status: str
    unit_id: int
    unit: str
    due_kind: str
    due_at: datetime
    overdue_days: int
    level: str | None


def overdue(session: Session, f: Filters, *, limit: int = 50, offset: int = 0,
            now: datetime | None = None) -> tuple[int, list[OverdueRow]]:
    """Overdue clues, most overdue first, with their highest escalation level."""
    now = now or utcnow()
    esc = _level_subquery()
    conds = [*conditions(session, f), *overdue_conditions(now)]
    base = (select(Report.id).select_from(Assignment).join(Report, Report.id == Assignment.report_id)
            .where(*conds))
    count = int(session.execute(select(sa.func.count()).select_from(base.subquery()))
                .scalar_one())
    stmt = (select(Report.id, Report.tracking_no, Report.category, Report.status,
                   Assignment.unit_id, Unit.short_name, Assignment.acknowledge_due_at,
                   Assignment.reply_due_at, Assignment.acknowledged_at, esc.c.rank)
            .select_from(Assignment).join(Report, Report.id == Assignment.report_id)
            .join(Unit, Unit.id == Assignment.unit_id)
            .outerjoin(esc, esc.c.aid == Assignment.id)
            .where(*conds).order_by(Assignment.reply_due_at, Report.id)
            .limit(limit).offset(offset))
    return count, [_overdue_row(session, values, now)
                   for values in session.execute(stmt).all()]


def overdue_rows(session: Session, report_ids: list[int],
                 now: datetime | None = None) -> list[OverdueRow]:
    """The overdue rows of these reports, in the order given (ids from the snapshot)."""
    now = now or utcnow()
    if not report_ids:
        return []
    esc = _level_subquery(report_ids)
    stmt = (select(Report.id, Report.tracking_no, Report.category, Report.status,
                   Assignment.unit_id, Unit.short_name, Assignment.acknowledge_due_at,
                   Assignment.reply_due_at, Assignment.acknowledged_at, esc.c.rank)
            .select_from(Assignment).join(Report, Report.id == Assignment.report_id)
            .join(Unit, Unit.id == Assignment.unit_id)
            .outerjoin(esc, esc.c.aid == Assignment.id)
            .where(Report.id.in_(report_ids), Assignment.is_current == sa.true()))
    rows = {r[0]: r for r in session.execute(stmt).all()}
    return [_overdue_row(session, rows[i], now) for i in report_ids if i in rows]


def _overdue_row(session: Session, values, now: datetime) -> OverdueRow:
    (rid, no, category, status, unit_id, unit, ack_due, reply_due, acked, rank) = values
    status = getattr(status, "value", status)
    due_kind, due_at = due_for(status, ack_due, reply_due)
    return OverdueRow(rid, no, category, status, unit_id, unit, due_kind, due_at,
                      deadlines.work_calendar(session).overdue_working_days(due_at, now),
                      RANK_LEVEL.get(rank or 0))


def overdue_by_level(session: Session, f: Filters,
                     now: datetime | None = None) -> dict[int, dict[str, int]]:
    """unit_id -> {level or "none": count} over the overdue clues (and "*" for all)."""
    esc = _level_subquery()
    stmt = (select(Assignment.unit_id, esc.c.rank, sa.func.count()).select_from(Assignment)
            .join(Report, Report.id == Assignment.report_id)
            .outerjoin(esc, esc.c.aid == Assignment.id)
            .where(*conditions(session, f), *overdue_conditions(now))
            .group_by(Assignment.unit_id, esc.c.rank))
    out: dict = {}
    for unit_id, rank, n in session.execute(stmt).all():
        level = RANK_LEVEL.get(rank or 0, "none")
        for target in (unit_id, "*"):
            bucket = out.setdefault(target, {})
            bucket[level] = bucket.get(level, 0) + n
            bucket["total"] = bucket.get("total", 0) + n
    return out


# -- labels ---------------------------------------------------------------------------

def unit_names(session: Session) -> dict[int, str]:
    return {u.id: u.short_name for u in session.exec(select(Unit).order_by(Unit.id))}
