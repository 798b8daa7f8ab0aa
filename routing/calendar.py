"""Chinese working-day calendar for every deadline (pure Python: no Flask, no database).

A day is a working day unless it is a weekend or a statutory holiday, with the State
Council's yearly schedule (调休: days off moved, weekend make-up working days) on top.
Sources, first match wins:

1. the override table the task force edits each November (``data/cn-calendar.yaml``);
2. the ``holidays`` package, country CN, ``public`` category.  For years it has an
   official table for (2001-2026 in holidays 0.109) it knows the moved days off *and* the
   make-up working days (``weekend_workdays``); for later years it only guesses the
   festivals (lunar dates, weekend-to-Monday in lieu) and knows no make-up days;
3. Saturday and Sunday off.

A year whose schedule is not known gives a warning (:meth:`WorkCalendar.warning_for`),
never an exception.  All day boundaries are China Standard Time (Asia/Shanghai, UTC+8,
no daylight saving since 1991); datetimes go in and out as UTC, naive ones are read as UTC.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import holidays
import yaml

from notices.timeutil import CST, as_date, as_utc, to_cst

DEFAULT_CALENDAR_FILE = Path(__file__).with_name("data") / "cn-calendar.yaml"

_DAY_SECONDS = 86400.0
_ONE_DAY = timedelta(days=1)


def package_published_years() -> frozenset[int]:
    """Years for which the installed ``holidays`` has the State Council's table for CN."""
    try:
        from holidays.countries.china import ChinaStaticHolidays

        return frozenset(int(y) for y in ChinaStaticHolidays.special_public_holidays)
    except Exception:  # private layout may change between releases
        return frozenset()


def end_of_day_utc(d: date) -> datetime:
    """The last microsecond of CST day ``d`` (23:59:59.999999 local), in UTC."""
    return datetime.combine(d, time.max, tzinfo=CST).astimezone(UTC)


@dataclass(frozen=True)
class TableDay:
    """One entry of the override table."""

    day: date
    workday: bool
    note: str = ""


@dataclass(frozen=True)
class TableYear:
    """One year of the override table; ``published`` is None when the file does not say."""

    year: int
    published: bool | None
    source: str = ""
    days: tuple[TableDay, ...] = ()


_YEAR_KEYS = frozenset({"published", "source", "days"})


def read_table(path: str | Path) -> dict[int, TableYear]:
    """Read and check an override table file (the format of ``data/cn-calendar.yaml``).

    :raise ValueError: with a message naming the file and the problem, for a file that is
        not YAML, not laid out as ``years: {<year>: {published, source, days}}``, or that
        gives one date both ways.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh)
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be parsed"
        raise ValueError(f"{path}: not valid YAML{where}: {problem}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected a mapping with a 'years' key at the top")
    years = data.get("years") or {}
    if not isinstance(years, Mapping):
        raise ValueError(f"{path}: 'years' must be a mapping of year -> schedule")
    table: dict[int, TableYear] = {}
    seen: dict[date, bool] = {}
    for year_key, spec in years.items():
        year = _year(path, year_key)
        if year in table:
            raise ValueError(f"{path}: year {year} is listed twice")
        table[year] = _table_year(path, year, spec, seen)
    return table


def _year(path: str | Path, key: object) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        year = key
    elif isinstance(key, str) and key.strip().isdigit():
        year = int(key)
    else:
        raise ValueError(f"{path}: {key!r} is not a year (write it like 2027:)")
    if not 2000 <= year <= 2100:
        raise ValueError(f"{path}: year {year} is outside 2000-2100")
    return year


def _table_year(path: str | Path, year: int, spec: object,
                seen: dict[date, bool]) -> TableYear:
    if spec is None:
        spec = {}
    if not isinstance(spec, Mapping):
        raise ValueError(f"{path}: year {year} must be a mapping with 'published', 'source' "
                         f"and 'days' keys, not a {type(spec).__name__}")
    unknown = sorted(str(k) for k in spec if k not in _YEAR_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown key(s) in {year}: {', '.join(unknown)} "
                         "(allowed: published, source, days)")
    published = spec.get("published")
    if published is not None and not isinstance(published, bool):
        raise ValueError(f"{path}: 'published' of {year} must be true or false")
    entries = spec.get("days") or ()
    if not isinstance(entries, list | tuple):
        raise ValueError(f"{path}: 'days' of {year} must be a list of "
                         "{date, workday, note} entries")
    days = []
    for entry in entries:
        try:
            d = as_date(entry["date"])
            workday = entry["workday"]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError(f"{path}: bad entry in {year}: {entry!r}") from exc
        if not isinstance(workday, bool):
            raise ValueError(f"{path}: 'workday' must be true/false in {entry!r}")
        if d in seen and seen[d] != workday:
            raise ValueError(f"{path}: conflicting entries for {d.isoformat()}")
        seen[d] = workday
        days.append(TableDay(d, workday, str(entry.get("note") or "")))
    return TableYear(year, published, str(spec.get("source") or ""), tuple(days))


class WorkCalendar:
    """Working days in mainland China: overrides, then statutory holidays, then weekends."""

    def __init__(
        self,
        overrides: Mapping[date, bool] | None = None,
        published_years: Iterable[int] | None = None,
        *,
        notes: Mapping[date, str] | None = None,
        unpublished_years: Iterable[int] = (),
    ) -> None:
        """Build a calendar.

        ``overrides`` maps a date to ``True`` (working day) or ``False`` (day off).
        ``published_years`` are years whose schedule is known; ``None`` means the years the
        installed ``holidays`` package has an official table for.  A year with override
        entries also counts as known unless it is in ``unpublished_years``.
        ``notes`` are free-text labels for override dates (shown on the dashboard).
        """
        self._overrides: dict[date, bool] = {
            as_date(d): bool(v) for d, v in (overrides or {}).items()
        }
        self._notes: dict[date, str] = {as_date(d): str(n) for d, n in (notes or {}).items()}
        base = package_published_years() if published_years is None else published_years
        unpublished = {int(y) for y in unpublished_years}
        known = {int(y) for y in base} | {d.year for d in self._overrides}
        self.published_years: frozenset[int] = frozenset(known - unpublished)
        self._holidays = holidays.country_holidays(
            "CN", categories=(holidays.PUBLIC,), language="zh_CN"
        )
        self._years_loaded: set[int] = set()
        self._base_off: dict[date, str] = {}
        self._base_on: set[date] = set()
        self._lock = threading.Lock()

    @classmethod
    def from_file(cls, path: str | Path = DEFAULT_CALENDAR_FILE) -> WorkCalendar:
        """Load the override table (``years: {2026: {published: true, days: [...]}}``).

        A year counts as published only if the file says ``published: true``; a year the
        file lists without the key keeps what the ``holidays`` package knows of it.
        :raise ValueError: on a malformed or self-contradicting file.
        """
        overrides: dict[date, bool] = {}
        notes: dict[date, str] = {}
        official = package_published_years()
        published: set[int] = set(official)
        unpublished: set[int] = set()
        for year, spec in read_table(path).items():
            if spec.published:
                published.add(year)
            elif spec.published is False or year not in official:
                unpublished.add(year)
            for day in spec.days:
                overrides[day.day] = day.workday
                if day.note:
                    notes[day.day] = day.note
        return cls(overrides, published, notes=notes, unpublished_years=unpublished)

    # -- single days ---------------------------------------------------------------------

    def _load_year(self, year: int) -> None:
        """Copy one year of the package's data into plain sets (thread-safe, once)."""
        if year in self._years_loaded:
            return
        with self._lock:
            if year in self._years_loaded:
                return
            # A year's table may name a make-up day in the previous year (e.g. 2006-12-31
            # for 2007), so load the next year too before reading ``weekend_workdays``.
            for y in (year, year + 1):
                if 1 <= y <= 9999:
                    try:
                        self._holidays.get(date(y, 1, 1))
                    # A year unknown to the package: weekends only.
                    except Exception:  # noqa: S112  # nosec B112
                        continue
            for d, name in self._holidays.items():
                if d.year == year:
                    self._base_off[d] = name
            self._base_on.update(d for d in self._holidays.weekend_workdays if d.year == year)
            self._years_loaded.add(year)

    def is_workday(self, d: date) -> bool:
        """True if ``d`` is a working day: override first, then statutory holiday, then weekend."""
        d = as_date(d)
        if d in self._overrides:
            return self._overrides[d]
        self._load_year(d.year)
        if d in self._base_off:
            return False
        if d in self._base_on:
            return True
        return d.weekday() < 5

    def note_for(self, d: date) -> str | None:
        """The override note or the package's holiday name for ``d``, if any."""
        d = as_date(d)
        if d in self._notes:
            return self._notes[d]
        if d in self._overrides:
            return None
        self._load_year(d.year)
        if d in self._base_off:
            return self._base_off[d]
        return "调休上班" if d in self._base_on else None

    def next_workday(self, d: date) -> date:
        """The first working day on or after ``d``."""
        d = as_date(d)
        for _ in range(366):
            if self.is_workday(d):
                return d
            d += _ONE_DAY
        raise ValueError(f"no working day within a year after {d.isoformat()}")

    # -- deadlines -----------------------------------------------------------------------

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Deadline ``days`` working days after ``start``, as an aware UTC datetime.

        The day of receipt (CST) is not counted: counting starts the next day, and only
        working days count, so a deadline never lands on a holiday.  The deadline is the
        end of the n-th working day, 23:59:59.999999 CST.  ``days == 0`` gives the end of
        the day of receipt, or of the next working day if that day is not one.
        """
        if days < 0:
            raise ValueError("days must be >= 0")
        d = to_cst(start).date()
        if days == 0:
            return end_of_day_utc(self.next_workday(d))
        counted = 0
        while counted < days:
            d += _ONE_DAY
            if self.is_workday(d):
                counted += 1
        return end_of_day_utc(d)

    def working_days_counted(self, start: datetime, due: datetime) -> int:
        """The ``days`` that :meth:`add_working_days` from ``start`` counted to reach the day
        of ``due``: the working days after the day of ``start``, up to that day."""
        d, last = to_cst(start).date(), to_cst(due).date()
        count = 0
        while d < last:
            d += _ONE_DAY
            if self.is_workday(d):
                count += 1
        return count

    def working_days_between(self, start: datetime, end: datetime) -> float:
        """Elapsed working time from ``start`` to ``end``, in working days.

        Definition: the CST clock time between the two instants that falls on working
        days, divided by 24 hours.  Non-working days (weekends, holidays) count zero;
        a full working day counts 1.0; part of a working day counts its fraction
        (received Mon 18:00, handled Tue 06:00 -> 0.5).  Unlike deadline counting, the
        day of receipt is counted from the moment of receipt, so this is a measure of
        speed (median/P90), not of lateness: judge on-time against the deadline.
        If ``end`` is before ``start`` the result is negative.
        """
        s, e = to_cst(start), to_cst(end)
        if e < s:
            return -self.working_days_between(end, start)
        total = 0.0
        d = s.date()
        last = e.date()
        while d <= last:
            if self.is_workday(d):
                day_start = datetime.combine(d, time.min, tzinfo=CST)
                lo = max(s, day_start)
                hi = min(e, day_start + _ONE_DAY)
                if hi > lo:
                    total += (hi - lo).total_seconds() / _DAY_SECONDS
            d += _ONE_DAY
        return total

    def overdue_working_days(self, due: datetime, now: datetime) -> int:
        """Working days on which the item has been overdue, counting today; 0 if not overdue.

        The first working day after a deadline of 23:59:59.999999 CST is overdue day 1
        (red card, 催办), day 2 means 督办, more than 5 means 挂牌督办.  Non-working days do
        not count, so this is 0 over a weekend right after a Friday deadline even though
        ``now > due``; compare the datetimes to ask "is it past due?".  A due time
        inside a working day makes that day overdue day 1.
        """
        due_u, now_u = as_utc(due), as_utc(now)
        if now_u <= due_u:
            return 0
        first = to_cst(due_u + timedelta(microseconds=1)).date()
        last = to_cst(now_u).date()
        count = 0
        d = first
        while d <= last:
            if self.is_workday(d):
                count += 1
            d += _ONE_DAY
        return count

    # -- unpublished years ---------------------------------------------------------------

    def is_year_published(self, year: int) -> bool:
        """True if the State Council's schedule for ``year`` is known to this calendar."""
        return year in self.published_years

    def warning_for(self, d: date) -> str | None:
        """A dashboard warning if ``d``'s year has no published schedule, else None."""
        year = as_date(d).year
        if self.is_year_published(year):
            return None
        return f"{year}年法定节假日安排尚未录入，期限按周末及预估节假日计算，可能不准确"

    def unknown_years(self, dates: Iterable[date | datetime]) -> set[int]:
        """Years among ``dates`` whose schedule is not published (datetimes read in CST)."""
        years = {(to_cst(x).date() if isinstance(x, datetime) else as_date(x)).year for x in dates}
        return {y for y in years if not self.is_year_published(y)}

    def deadline_warnings(self, start: datetime, due: datetime) -> list[str]:
        """Warnings for every unpublished year between ``start`` and ``due`` (CST)."""
        first, last = to_cst(start).date().year, to_cst(due).date().year
        return [
            w
            for y in range(min(first, last), max(first, last) + 1)
            if (w := self.warning_for(date(y, 1, 1))) is not None
        ]


_default: WorkCalendar | None = None
_default_lock = threading.Lock()


def default_calendar() -> WorkCalendar:
    """The calendar from ``data/cn-calendar.yaml``, loaded once per process."""
    global _default
    if _default is None:
        with _default_lock:
            if _default is None:
                _default = WorkCalendar.from_file(DEFAULT_CALENDAR_FILE)
    return _default
