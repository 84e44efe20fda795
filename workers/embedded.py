"""The embedded default: with no Redis, the web process runs the outbox jobs itself."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from portal.core import clock, db
from portal.jobs import service as jobs
from workers.handlers import HANDLERS
from workers.schedule import periodic

log = logging.getLogger("workers.embedded")


PERIODIC_EVERY = dt.timedelta(minutes=5)


async def _heartbeat() -> None:
    """Its own task: a long job must not let its lease lapse (`portal serve --workers N` runs
    several of these runners on one outbox)."""
    started = clock.now()
    while True:
        try:
            await jobs.heartbeat("web", "", 0, started)
        except Exception as exc:  # the database away: the next beat will tell
            log.debug("Battement de cœur impossible : %s", exc)
        await asyncio.sleep(jobs.heartbeat_every())


async def run_forever() -> None:
    beat = asyncio.create_task(_heartbeat())
    try:
        await _run()
    finally:
        beat.cancel()


async def _run() -> None:
    wakeup = jobs.wakeup_event()
    last_periodic: dt.datetime | None = None
    while True:
        try:
            now = clock.now()
            if last_periodic is None or now - last_periodic >= PERIODIC_EVERY:
                last_periodic = now
                await periodic(now)
            await jobs.run_due(HANDLERS)
        except Exception as exc:  # keep serving; the jobs stay in the outbox
            if db.unavailable(exc):
                log.warning("Base de données injoignable : tâches en attente (%s)", exc)
            else:
                log.exception("Exécution des tâches interrompue")
        wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=1.0)
