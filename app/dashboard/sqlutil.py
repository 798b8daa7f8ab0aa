"""The few SQL expressions that differ between SQLite and PostgreSQL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from intake.models import Report


def dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def epoch(column, name: str):
    """Seconds since 1970-01-01 UTC of a stored UTC datetime (NULL stays NULL)."""
    if name == "sqlite":
        return (sa.func.julianday(column) - 2440587.5) * 86400.0
    return sa.extract("epoch", column)


def cst_day(column, name: str, period: str = "day"):
    """The CST calendar day (or the Monday of its week) of a stored UTC datetime, as text."""
    if name == "sqlite":
        if period == "week":
            return sa.func.date(column, "+8 hours", "-6 days", "weekday 1")
        return sa.func.date(column, "+8 hours")
    local = sa.func.timezone("Asia/Shanghai", column)
    if period == "week":
        return sa.func.to_char(sa.func.date_trunc("week", local), "YYYY-MM-DD")
    return sa.func.to_char(local, "YYYY-MM-DD")


def items_table(name: str):
    """A table-valued function over Report.items, one row per checklist item number."""
    if name == "sqlite":
        return sa.func.json_each(Report.items).table_valued("value").alias("item_each")
    return sa.func.json_array_elements_text(Report.items).table_valued("value").alias("item_each")


def item_value(table, name: str):
    return table.c.value if name == "sqlite" else sa.cast(table.c.value, sa.Integer)


def has_item(name: str, number: int):
    """Report.items contains `number`."""
    if name == "sqlite":
        return sa.text("EXISTS (SELECT 1 FROM json_each(report.items) AS je "
                       "WHERE je.value = :item_no)").bindparams(item_no=int(number))
    return sa.text("(report.items::jsonb @> jsonb_build_array(CAST(:item_no AS integer)))"
                   ).bindparams(item_no=int(number))
