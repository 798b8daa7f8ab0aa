"""Clock and time-zone helpers: stored times are UTC, shown times are China Standard Time."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Any

try:
    from zoneinfo import ZoneInfo

    CST: tzinfo = ZoneInfo("Asia/Shanghai")
except Exception:  # no tz database: China has been fixed UTC+8 since 1991
    CST = timezone(timedelta(hours=8), "CST")


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Treat naive datetimes (as SQLite returns them) as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_cst(value: datetime) -> datetime:
    return as_utc(value).astimezone(CST)


def cst_start(day: date) -> datetime:
    """The first instant of CST day `day`, in UTC (as stored, and as SQLite compares it)."""
    return datetime.combine(day, time.min, tzinfo=CST).astimezone(UTC)


def as_date(value: Any) -> date:
    """A date from a date, a datetime or ISO text (as YAML and forms give them).
    :raise ValueError: text that is not YYYY-MM-DD.
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value).strip())


def iso_cst(value: datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset, as the APIs answer; None stays None."""
    return to_cst(value).isoformat(timespec="seconds") if value else None


# Days a person may ask about: a date picker also offers 0001-01-01 and 9999-12-31, whose
# neighbours (a day later, the UTC instant) do not exist.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)


def parse_day(value: str | None) -> date | None:
    """An ISO date between FIRST_DAY and LAST_DAY; None for anything else (no bound)."""
    try:
        day = date.fromisoformat((value or "").strip())
    except ValueError:
        return None
    return day if FIRST_DAY <= day <= LAST_DAY else None
