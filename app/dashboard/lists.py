"""The lists behind the dashboard's numbers: reports matching the filters, paged or exported.

Exports carry no reporter data and no free text a reporter wrote (it may name them).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from app.dashboard.filters import Filters
from app.dashboard.metrics import conditions
from intake.forms import CHANNEL_LABELS
from intake.models import Report
from routing.models import Assignment, Unit
from routing.web import STATUS_LABELS

PAGE_SIZE = 50
EXPORT_HEADER = (_l("受理编号"), _l("受理时间"), _l("渠道"), _l("问题类别"), _l("清单条目"),
                 _l("区县"), _l("状态"), _l("责任单位"), _l("转办时间"), _l("办理期限"),
                 _l("回复时间"), _l("办结时间"))


@dataclass
class ListRow:
    id: int
    tracking_no: str
    received_at: datetime
    channel: str
    category: str | None
    items: list
    district: str | None
    status: str
    unit: str | None
    dispatched_at: datetime | None
    reply_due_at: datetime | None
    replied_at: datetime | None
    closed_at: datetime | None


def _query(session: Session, f: Filters):
    return (select(Report.id, Report.tracking_no, Report.received_at, Report.channel,
                   Report.category, Report.items, Report.district, Report.status,
                   Unit.short_name, Assignment.dispatched_at, Assignment.reply_due_at,
                   Assignment.replied_at, Report.closed_at)
            .select_from(Report)
            .outerjoin(Assignment, sa.and_(Assignment.report_id == Report.id,
                                           Assignment.is_current == sa.true()))
            .outerjoin(Unit, Unit.id == Assignment.unit_id)
            .where(*conditions(session, f)))


def _row(values) -> ListRow:
    values = list(values)
    values[3] = getattr(values[3], "value", values[3])
    values[7] = getattr(values[7], "value", values[7])
    return ListRow(*values)


def page(session: Session, f: Filters, number: int = 1) -> tuple[int, list[ListRow]]:
    number = max(1, number)
    total = int(session.execute(select(sa.func.count()).select_from(Report)
                                .where(*conditions(session, f))).scalar_one())
    rows = session.execute(_query(session, f).order_by(Report.received_at.desc(),
                                                       Report.id.desc())
                           .limit(PAGE_SIZE).offset((number - 1) * PAGE_SIZE)).all()
    return total, [_row(r) for r in rows]


def export_rows(session: Session, f: Filters) -> Iterator[tuple]:
    result = session.execute(_query(session, f).order_by(Report.received_at, Report.id)
                             .execution_options(yield_per=2000))
    for values in result:
        r = _row(values)
        yield (r.tracking_no, r.received_at, str(CHANNEL_LABELS.get(r.channel, r.channel)),
               r.category or "", ",".join(str(i) for i in r.items or []), r.district or "",
               str(STATUS_LABELS.get(r.status, r.status)), r.unit or "", r.dispatched_at,
               r.reply_due_at, r.replied_at, r.closed_at)
