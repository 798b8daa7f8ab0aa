"""Clock and time-zone helpers: stored times are UTC, shown times are China Standard Time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

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


def iso_cst(value: datetime | None) -> str | None:
    """ISO 8601 with the +08:00 offset, as the APIs answer; None stays None."""
    return to_cst(value).isoformat(timespec="seconds") if value else None
