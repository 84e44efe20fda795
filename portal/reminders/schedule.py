"""When reminders go out, relative to a due date. Pure functions of dates: easy to test.

Default: 15 days, 7 days and 1 day before; the day after; then weekly while overdue, 4 overdue
reminders at most; then one escalation to the pilots. Endless reminders teach people to ignore
them, so there is nothing after the escalation.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Policy:
    before_days: tuple[int, ...] = (15, 7, 1)
    overdue_first: int = 1
    overdue_every: int = 7
    overdue_max: int = 4
    escalate: bool = True


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class Step:
    name: str  # stable code, part of the de-duplication key
    on: dt.date
    escalation: bool = False
    overdue: bool = False


def _shifted(due: dt.date, days: int) -> dt.date | None:
    """None past the calendar's ends: a due date stored before dates were bounded (year 9999)
    has no step there, rather than stopping the scan."""
    try:
        return due + dt.timedelta(days=days)
    except OverflowError:
        return None


def steps(due: dt.date, policy: Policy) -> list[Step]:
    planned = [
        (f"before-{d}", -d, False, False) for d in sorted(set(policy.before_days), reverse=True)
    ]
    planned += [
        (f"overdue-{k}", policy.overdue_first + (k - 1) * policy.overdue_every, False, True)
        for k in range(1, policy.overdue_max + 1)
    ]
    if policy.escalate:
        after = policy.overdue_first + policy.overdue_max * policy.overdue_every
        if policy.overdue_max == 0:
            after = policy.overdue_first
        planned.append(("escalation", after, True, True))
    found = []
    for name, offset, escalation, overdue in planned:
        on = _shifted(due, offset)
        if on is not None:
            found.append(Step(name, on, escalation=escalation, overdue=overdue))
    return sorted(found, key=lambda s: s.on)


def current_step(due: dt.date, created_on: dt.date, today: dt.date, policy: Policy) -> Step | None:
    """The latest step due by `today` that is not older than the object itself: a step missed
    (the scan did not run) is replaced by the next one, never sent late in a burst."""
    eligible = [s for s in steps(due, policy) if created_on <= s.on <= today]
    return eligible[-1] if eligible else None


@dataclass(frozen=True)
class DueItem:
    """Something with a due date that a source (e.g. a deadline) offers for reminding."""

    subject: str  # "<type>:<id>", stable: the de-duplication key and the notification subject
    title: str
    due_on: dt.date
    created_on: dt.date
    link: str
    recipients: tuple[object, ...]  # user ids; empty: the pilots
