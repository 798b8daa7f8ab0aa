"""Tests for the Chinese working-day calendar (routing/calendar.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from routing.calendar import DEFAULT_CALENDAR_FILE, WorkCalendar, default_calendar

CST = timezone(timedelta(hours=8))


def cst(y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    """An aware datetime on the CST wall clock."""
    return datetime(y, m, d, hh, mm, tzinfo=CST)


def eod(y: int, m: int, d: int) -> datetime:
    """End of CST day (23:59:59.999999) expressed in UTC, as deadlines are returned."""
    return datetime(y, m, d, 23, 59, 59, 999999, tzinfo=CST).astimezone(UTC)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar.from_file(DEFAULT_CALENDAR_FILE)


@pytest.fixture(scope="module")
def weekends_only() -> WorkCalendar:
    """Every weekday a working day: shows what a naive calendar would get wrong."""
    d = date(2023, 1, 1)
    overrides: dict[date, bool] = {}
    while d < date(2027, 1, 1):
        overrides[d] = d.weekday() < 5
        d += timedelta(days=1)
    return WorkCalendar(overrides)


# -- the table -----------------------------------------------------------------------------


def test_table_loads_published_years(cal: WorkCalendar) -> None:
    for year in (2023, 2024, 2025, 2026):
        assert cal.is_year_published(year)
        assert cal.warning_for(date(year, 6, 1)) is None
    assert not cal.is_year_published(2027)


def test_table_agrees_with_holidays_package() -> None:
    table = WorkCalendar.from_file(DEFAULT_CALENDAR_FILE)
    package = WorkCalendar()
    d = date(2023, 1, 1)
    while d <= date(2026, 12, 31):
        assert table.is_workday(d) == package.is_workday(d), d
        d += timedelta(days=1)


@pytest.mark.parametrize(
    ("day", "workday"),
    [
        ("2023-09-29", False),  # 中秋节
        ("2023-10-06", False),
        ("2023-10-07", True),  # Saturday, 调休上班
        ("2023-10-08", True),  # Sunday, 调休上班
        ("2024-02-09", True),  # 除夕 2024: only "encouraged" off, still a working day
        ("2024-02-18", True),
        ("2025-01-28", False),  # 除夕 is a statutory holiday from 2025
        ("2025-09-28", True),
        ("2025-10-08", False),
        ("2025-10-11", True),
        ("2026-01-04", True),
        ("2026-02-14", True),
        ("2026-02-23", False),
        ("2026-09-20", True),
        ("2026-10-07", False),
        ("2026-10-10", True),
        ("2025-03-08", False),  # plain Saturday
        ("2025-03-10", True),  # plain Monday
    ],
)
def test_is_workday(cal: WorkCalendar, day: str, workday: bool) -> None:
    assert cal.is_workday(date.fromisoformat(day)) is workday


def test_notes(cal: WorkCalendar) -> None:
    assert cal.note_for(date(2026, 2, 14)) == "春节调休上班"
    assert cal.note_for(date(2025, 10, 8)) == "国庆节、中秋节"
    assert cal.note_for(date(2025, 3, 10)) is None


def test_override_beats_package() -> None:
    c = WorkCalendar({date(2025, 10, 8): True, date(2025, 3, 10): False})
    assert c.is_workday(date(2025, 10, 8))
    assert not c.is_workday(date(2025, 3, 10))


def test_from_file_rejects_conflicts(tmp_path: Path) -> None:
    bad = tmp_path / "cal.yaml"
    bad.write_text(
        "years:\n  2027:\n    published: true\n    days:\n"
        "      - {date: 2027-02-06, workday: false}\n"
        "      - {date: 2027-02-06, workday: true}\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="conflicting"):
        WorkCalendar.from_file(bad)


def test_unpublished_flag_keeps_warning(tmp_path: Path) -> None:
    f = tmp_path / "cal.yaml"
    f.write_text(
        "years:\n  2027:\n    published: false\n    days:\n"
        "      - {date: 2027-02-06, workday: false, note: 春节}\n",
        encoding="utf-8",
    )
    c = WorkCalendar.from_file(f)
    assert not c.is_workday(date(2027, 2, 6))
    assert c.warning_for(date(2027, 2, 6)) is not None


# -- deadlines -----------------------------------------------------------------------------


def test_deadline_across_2023_national_day(cal: WorkCalendar) -> None:
    # Received Thu 09-28; 09-29..10-06 off; Sat 10-07 and Sun 10-08 are make-up days.
    start = cst(2023, 9, 28)
    assert cal.add_working_days(start, 1) == eod(2023, 10, 7)
    assert cal.add_working_days(start, 2) == eod(2023, 10, 8)
    assert cal.add_working_days(start, 3) == eod(2023, 10, 9)


def test_deadline_across_2025_national_day(cal: WorkCalendar) -> None:
    # Received Fri 09-26; Sun 09-28 make-up; 10-01..10-08 off; Sat 10-11 make-up.
    start = cst(2025, 9, 26)
    assert cal.add_working_days(start, 1) == eod(2025, 9, 28)
    assert cal.add_working_days(start, 3) == eod(2025, 9, 30)
    assert cal.add_working_days(start, 4) == eod(2025, 10, 9)
    assert cal.add_working_days(start, 6) == eod(2025, 10, 11)


def test_deadline_across_plain_weekend(cal: WorkCalendar) -> None:
    assert cal.add_working_days(cst(2025, 3, 7), 1) == eod(2025, 3, 10)  # Fri -> Mon
    assert cal.add_working_days(cst(2025, 3, 8), 1) == eod(2025, 3, 10)  # Sat -> Mon
    assert cal.add_working_days(cst(2025, 3, 4), 3) == eod(2025, 3, 7)  # Tue -> Fri


def test_make_up_saturday_counts(cal: WorkCalendar) -> None:
    # 2026-02-13 (Fri): Sat 02-14 is a make-up working day, then 02-15..02-23 off.
    assert cal.add_working_days(cst(2026, 2, 13), 1) == eod(2026, 2, 14)
    assert cal.add_working_days(cst(2026, 2, 13), 2) == eod(2026, 2, 24)


def test_deadline_on_holiday_rolls_forward(cal: WorkCalendar, weekends_only: WorkCalendar) -> None:
    start = cst(2025, 9, 29)  # Mon
    assert weekends_only.add_working_days(start, 2) == eod(2025, 10, 1)  # naive: a holiday
    assert cal.add_working_days(start, 2) == eod(2025, 10, 9)
    assert cal.is_workday(cal.add_working_days(start, 2).astimezone(CST).date())


def test_received_late_friday_evening_cst(cal: WorkCalendar) -> None:
    # Fri 2025-03-07 00:30 CST is still Thursday in UTC; the CST day of receipt counts.
    naive_utc = datetime(2025, 3, 6, 16, 30)
    assert cal.add_working_days(naive_utc, 1) == eod(2025, 3, 10)
    # Fri 23:30 CST: day of receipt not counted, so still Monday.
    assert cal.add_working_days(cst(2025, 3, 7, 23, 30), 1) == eod(2025, 3, 10)


def test_deadline_is_aware_utc_end_of_cst_day(cal: WorkCalendar) -> None:
    due = cal.add_working_days(datetime(2025, 3, 3, 2, 0, tzinfo=UTC), 1)
    assert due.tzinfo is not None and due.utcoffset() == timedelta(0)
    assert due == datetime(2025, 3, 4, 15, 59, 59, 999999, tzinfo=UTC)
    # naive input is read as UTC
    assert cal.add_working_days(datetime(2025, 3, 3, 2, 0), 1) == due


def test_ten_working_days(cal: WorkCalendar) -> None:
    assert cal.add_working_days(cst(2025, 3, 3), 10) == eod(2025, 3, 17)
    assert cal.add_working_days(cst(2025, 9, 26), 10) == eod(2025, 10, 16)
    assert cal.add_working_days(cst(2026, 2, 13), 10) == eod(2026, 3, 5)


def test_zero_and_negative_days(cal: WorkCalendar) -> None:
    assert cal.add_working_days(cst(2025, 3, 7), 0) == eod(2025, 3, 7)
    assert cal.add_working_days(cst(2025, 10, 1), 0) == eod(2025, 10, 9)
    with pytest.raises(ValueError):
        cal.add_working_days(cst(2025, 3, 7), -1)


# -- unpublished years ---------------------------------------------------------------------


def test_unknown_year_warns(cal: WorkCalendar) -> None:
    warning = cal.warning_for(date(2027, 3, 1))
    assert warning is not None and "2027年" in warning and "尚未录入" in warning
    assert cal.unknown_years([date(2026, 12, 31), date(2027, 1, 4), date(2030, 5, 1)]) == {
        2027,
        2030,
    }
    # 2026-12-31 20:00 UTC is already 2027 in China
    assert cal.unknown_years([datetime(2026, 12, 31, 20, 0)]) == {2027}
    assert cal.deadline_warnings(cst(2026, 12, 28), cst(2027, 1, 8)) == [
        cal.warning_for(date(2027, 1, 1))
    ]


def test_unknown_year_falls_back_to_package_guess(cal: WorkCalendar) -> None:
    assert not cal.is_workday(date(2027, 10, 1))  # 国庆节, guessed by the package
    assert not cal.is_workday(date(2027, 10, 2))  # Saturday; no make-up days known
    assert cal.is_workday(date(2027, 10, 8))
    due = cal.add_working_days(cst(2027, 9, 30), 1)
    assert cal.is_workday(due.astimezone(CST).date())


def test_explicit_published_years() -> None:
    c = WorkCalendar(published_years=[2026])
    assert c.warning_for(date(2026, 1, 1)) is None
    assert c.warning_for(date(2025, 1, 1)) is not None
    assert WorkCalendar({date(2027, 2, 8): False}).warning_for(date(2027, 5, 1)) is None


def test_no_crash_2000_to_2101(cal: WorkCalendar) -> None:
    for year in range(2000, 2102):
        for month in (1, 2, 5, 10, 12):
            start = cst(year, month, 28)
            due = cal.add_working_days(start, 10)
            assert due > start
            cal.warning_for(start.date())
            assert cal.working_days_between(start, due) >= 9
    assert cal.unknown_years([date(2100, 1, 1), date(2101, 1, 1)]) == {2100, 2101}


# -- overdue -------------------------------------------------------------------------------


def test_overdue_plain_week(cal: WorkCalendar) -> None:
    due = eod(2025, 3, 10)  # Mon
    assert cal.overdue_working_days(due, cst(2025, 3, 10, 23, 59)) == 0
    assert cal.overdue_working_days(due, cst(2025, 3, 11, 0, 1)) == 1  # red card
    assert cal.overdue_working_days(due, cst(2025, 3, 12)) == 2  # 督办
    assert cal.overdue_working_days(due, cst(2025, 3, 17)) == 5
    assert cal.overdue_working_days(due, cst(2025, 3, 18)) == 6  # > 5: 挂牌督办


def test_overdue_across_holiday(cal: WorkCalendar) -> None:
    due = cal.add_working_days(cst(2025, 9, 26), 3)
    assert due == eod(2025, 9, 30)
    assert cal.overdue_working_days(due, cst(2025, 10, 1)) == 0  # past due, but a holiday
    assert cal.overdue_working_days(due, cst(2025, 10, 8)) == 0
    assert cal.overdue_working_days(due, cst(2025, 10, 9)) == 1
    assert cal.overdue_working_days(due, cst(2025, 10, 11)) == 3  # make-up Saturday counts
    assert cal.overdue_working_days(due, cst(2025, 10, 12)) == 3
    assert cal.overdue_working_days(due, cst(2025, 10, 13)) == 4


def test_overdue_mid_day_due_and_naive(cal: WorkCalendar) -> None:
    due = cst(2025, 3, 10, 17, 0)
    assert cal.overdue_working_days(due, cst(2025, 3, 10, 18, 0)) == 1
    assert cal.overdue_working_days(eod(2025, 3, 10).replace(tzinfo=None), cst(2025, 3, 11)) == 1


# -- elapsed working time ------------------------------------------------------------------


def test_working_days_between_across_holiday(cal: WorkCalendar) -> None:
    assert cal.working_days_between(cst(2025, 9, 30, 12), cst(2025, 10, 9, 12)) == pytest.approx(
        1.0
    )
    assert cal.working_days_between(cst(2025, 10, 2), cst(2025, 10, 5)) == 0.0


def test_working_days_between_weekend_and_make_up(cal: WorkCalendar) -> None:
    assert cal.working_days_between(cst(2025, 3, 7, 18), cst(2025, 3, 10, 6)) == pytest.approx(0.5)
    assert cal.working_days_between(cst(2023, 10, 6, 12), cst(2023, 10, 7, 12)) == pytest.approx(
        0.5
    )
    assert cal.working_days_between(cst(2025, 3, 3), cst(2025, 3, 10)) == pytest.approx(5.0)


def test_working_days_between_reversed_and_naive(cal: WorkCalendar) -> None:
    a, b = cst(2025, 3, 3), cst(2025, 3, 4, 4)
    assert cal.working_days_between(b, a) == pytest.approx(-0.75)
    assert cal.working_days_between(a.astimezone(UTC).replace(tzinfo=None), b) == pytest.approx(
        0.75
    )


def test_default_calendar_is_cached() -> None:
    assert default_calendar() is default_calendar()
    assert default_calendar().is_workday(date(2026, 2, 14))
