"""Periods of recurring requests: calendar quarters or years. Pure functions of dates."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from portal.documents.enums import Recurrence


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date
    label: str


def period_of(day: dt.date, recurrence: Recurrence) -> Period:
    if recurrence == Recurrence.QUARTERLY:
        quarter = (day.month - 1) // 3
        start = dt.date(day.year, 3 * quarter + 1, 1)
        next_start = dt.date(day.year + (quarter == 3), (3 * quarter + 3) % 12 + 1, 1)
        return Period(start, next_start - dt.timedelta(days=1), f"T{quarter + 1} {day.year}")
    return Period(dt.date(day.year, 1, 1), dt.date(day.year, 12, 31), str(day.year))


def periods_until(first: dt.date, today: dt.date, recurrence: Recurrence) -> list[Period]:
    """Every period from the one containing `first` to the one containing `today`."""
    found = []
    period = period_of(first, recurrence)
    while period.start <= today:
        found.append(period)
        period = period_of(period.end + dt.timedelta(days=1), recurrence)
    return found
