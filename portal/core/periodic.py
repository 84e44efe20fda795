"""Periodic work done unit by unit (one consortium's share of a task, one request, one file).

A unit that fails is logged and left for the next run: it never stops the units after it,
nor the other tasks. Every unit is idempotent, so doing it again later is harmless.
What the log says names the task, the unit's ids and the error's type and place, never the
error's message: it may quote a row (a title, a person's name, a household's address).

An outage (database or storage not answering) is not isolated: every unit would fail alike,
so the task stops and says so once (see `workers/schedule.py`)."""

from __future__ import annotations

import contextlib
import logging
import traceback
import uuid
from collections.abc import AsyncIterator, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from portal.core import db, scope
from portal.core.outage import Unavailable

log = logging.getLogger("portal.schedule")


@dataclass
class Tally:
    failed: int = 0


_tally: ContextVar[Tally | None] = ContextVar("periodic_tally", default=None)


@contextlib.contextmanager
def tally() -> Iterator[Tally]:
    """Counts the units that fail inside the block (the runner reports the total)."""
    found = Tally()
    token = _tally.set(found)
    try:
        yield found
    finally:
        _tally.reset(token)


def outage(exc: BaseException) -> bool:
    return isinstance(exc, Unavailable) or db.unavailable(exc)


def describe(exc: BaseException) -> str:
    """The error's type and the last places of ours it went through, without its message."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if _ours(Path(f.filename))] or frames
    where = " < ".join(f"{_shown(Path(f.filename))}:{f.lineno}" for f in reversed(ours[-3:]))
    return f"{type(exc).__name__} ({where})" if where else type(exc).__name__


_ROOT = Path(__file__).resolve().parents[2]
_OURS = (_ROOT / "portal", _ROOT / "workers")


def _ours(path: Path) -> bool:
    return any(folder in path.parents for folder in _OURS)


def _shown(path: Path) -> str:
    return str(path.relative_to(_ROOT)) if _ours(path) else path.name


def failed(task: str, exc: BaseException, **ids: object) -> None:
    """Logs a failure that the next run retries, and counts it."""
    found = _tally.get()
    if found is not None:
        found.failed += 1
    unit = " ".join(f"{k}={v}" for k, v in ids.items())
    log.error(
        "Tâche périodique « %s » en échec%s, reprise au prochain passage : %s",
        task,
        f" ({unit})" if unit else "",
        describe(exc),
    )


@contextlib.asynccontextmanager
async def _isolated() -> AsyncIterator[None]:
    """A savepoint when the caller holds a transaction: a query refused for this unit aborts
    a PostgreSQL transaction, and rolling back to the savepoint lets the caller's go on.

    Otherwise no transaction of its own, on purpose: the scans already write in small
    transactions of their own (one reminder and its notification, one request under its
    lock), some steps must run outside any (`objects.store`, `jobs.deliver_once`), and the
    work done before a bad row is kept, so that a consortium's scan still progresses."""
    current = db.engine().current_transaction.get()
    if current is None:
        yield
        return
    savepoint = await current.savepoint()
    try:
        yield
    except BaseException:
        await savepoint.rollback_to()
        raise
    await savepoint.release()


@contextlib.asynccontextmanager
async def unit(task: str, **ids: object) -> AsyncIterator[None]:
    """One unit of `task` (named in the log by `ids`, e.g. `consortium=<uuid>`): its error
    is logged and swallowed, and what it wrote in the caller's transaction rolled back.
    Outages propagate. A consortium's unit sees that consortium's rows only."""
    consortium = ids.get("consortium")
    narrowed = (
        scope.consortium_scope(consortium)
        if isinstance(consortium, uuid.UUID)
        else contextlib.nullcontext()
    )
    try:
        async with narrowed, _isolated():
            yield
    except Exception as exc:
        if outage(exc):
            raise
        failed(task, exc, **ids)
