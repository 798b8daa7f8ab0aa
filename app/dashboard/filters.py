"""The dashboard's filters: parsed once from the query string, turned into SQL conditions."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import select

from intake.models import Channel, Report, ReportStatus
from notices.db import db_int
from notices.timeutil import cst_start, parse_day
from routing.models import Assignment


def _int(value: str | None) -> int | None:
    try:
        return db_int(value) if value not in (None, "") else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Filters:
    campaign_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    unit_id: int | None = None
    category: str | None = None
    channel: str | None = None
    status: str | None = None
    district: str | None = None
    item: int | None = None
    overdue: bool = False

    @classmethod
    def from_args(cls, args: Any, campaign_id: int | None = None) -> Filters:
        channel = args.get("channel") or None
        status = args.get("status") or None
        item = _int(args.get("item"))
        return cls(
            campaign_id=campaign_id,
            date_from=parse_day(args.get("from")), date_to=parse_day(args.get("to")),
            unit_id=_int(args.get("unit")),
            category=(args.get("category") or None),
            channel=channel if channel in {c.value for c in Channel} else None,
            status=status if status in {s.value for s in ReportStatus} | {"open"} else None,
            district=(args.get("district") or None),
            item=item if item and 1 <= item <= 99 else None,
            overdue=args.get("overdue") in ("1", "true", "on"),
        )

    def args(self, **changes: Any) -> dict[str, str]:
        """Query-string arguments of these filters with `changes` applied (for links)."""
        data = asdict(replace(self, **changes))
        names = {"date_from": "from", "date_to": "to", "unit_id": "unit"}
        out: dict[str, str] = {}
        for key, value in data.items():
            if key == "campaign_id" or value in (None, False, ""):
                continue
            out[names.get(key, key)] = "1" if value is True else str(value)
        return out

    def is_empty(self) -> bool:
        return not self.args()

    def report_conditions(self, *, with_unit: bool = True) -> list:
        """Conditions on Report (and, for the unit, on its current assignment)."""
        conds: list = []
        if self.campaign_id is not None:
            conds.append(Report.campaign_id == self.campaign_id)
        if self.date_from:
            conds.append(Report.received_at >= cst_start(self.date_from))
        if self.date_to:
            conds.append(Report.received_at < cst_start(self.date_to + timedelta(days=1)))
        if self.category:
            conds.append(Report.category.is_(None) if self.category == "-"
                         else Report.category == self.category)
        if self.channel:
            conds.append(Report.channel == self.channel)
        if self.status == "open":
            from routing.transitions import OPEN
            conds.append(Report.status.in_(OPEN))
        elif self.status:
            conds.append(Report.status == self.status)
        if self.district:
            conds.append(Report.district.is_(None) if self.district == "-"
                         else Report.district == self.district)
        if with_unit and self.unit_id:
            conds.append(Report.id.in_(select(Assignment.report_id).where(
                Assignment.is_current == sa.true(), Assignment.unit_id == self.unit_id)))
        return conds
