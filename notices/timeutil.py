"""Clock and time-zone helpers: stored times are UTC, shown times are China Standard Time."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

CST = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Treat naive datetimes (as SQLite returns them) as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_cst(value: datetime) -> datetime:
    return as_utc(value).astimezone(CST)
