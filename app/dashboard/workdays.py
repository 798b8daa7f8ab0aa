"""Working-day durations for many rows at once (numpy over epoch seconds).

`WorkCalendar.working_days_between` walks day by day; for 200,000 rows that is too slow.
Here a cumulative table of working seconds per CST day turns every duration into two
look-ups: W(t) = working seconds before t's CST day + (seconds into that day, if it is a
working day); duration = (W(end) - W(start)) / 86400. Same definition as the calendar's.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from routing.calendar import WorkCalendar

DAY = 86400.0
CST_OFFSET = 8 * 3600.0
_EPOCH_DAY = date(1970, 1, 1)


class WorkClock:
    """Working-second clock over a span of CST days."""

    def __init__(self, calendar: WorkCalendar, first: date, last: date) -> None:
        self.first_index = (first - _EPOCH_DAY).days
        n = (last - first).days + 1
        self.workday = np.array([calendar.is_workday(first + timedelta(days=i))
                                 for i in range(n)], dtype=np.float64)
        self.cum = np.concatenate(([0.0], np.cumsum(self.workday * DAY)))

    @classmethod
    def covering(cls, calendar: WorkCalendar, *epoch_arrays: np.ndarray) -> WorkClock:
        values = np.concatenate([a[~np.isnan(a)] for a in epoch_arrays] or [np.array([])])
        if values.size == 0:
            today = date.today()
            return cls(calendar, today, today)
        lo = _EPOCH_DAY + timedelta(days=int((values.min() + CST_OFFSET) // DAY))
        hi = _EPOCH_DAY + timedelta(days=int((values.max() + CST_OFFSET) // DAY))
        return cls(calendar, lo, hi)

    def seconds(self, epoch: np.ndarray) -> np.ndarray:
        """W(t) for each epoch second (NaN stays NaN)."""
        local = epoch + CST_OFFSET
        day = np.floor(local / DAY)
        valid = ~np.isnan(day)
        index = np.zeros(epoch.shape, dtype=np.int64)
        index[valid] = day[valid].astype(np.int64) - self.first_index
        index = np.clip(index, 0, len(self.workday) - 1)
        into = local - day * DAY
        out = self.cum[index] + self.workday[index] * into
        out[~valid] = np.nan
        return out

    def between(self, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Working days from start to end, elementwise (NaN where either is missing)."""
        return (self.seconds(end) - self.seconds(start)) / DAY


def median_p90(values: np.ndarray) -> tuple[float | None, float | None, int]:
    """Median and 90th percentile (linear interpolation) of the non-missing values."""
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None, None, 0
    median, p90 = np.percentile(values, [50, 90])
    return float(median), float(p90), int(values.size)
