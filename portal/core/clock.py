"""The time, read in one place. Every module asks `clock.now()` (aware, UTC) or `clock.today()`
(the date in Paris, where the consortia work: a machine on UTC would change day an hour or two
late); the test suite moves them all at once with its `clock` fixture."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    return now().astimezone(PARIS).date()
