"""The embedded default: with no Redis, the web process runs the outbox jobs itself."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time

from portal.core import db
from portal.jobs import service as jobs
from workers.handlers import HANDLERS
from workers.schedule import periodic

log = logging.getLogger("workers.embedded")


PERIODIC_EVERY = dt.timedelta(minutes=5)
HEARTBEAT_EVERY = 10.0  # seconds


async def run_forever() -> None:
    wakeup = jobs.wakeup_event()
    last_periodic: dt.datetime | None = None
    last_beat = 0.0
    started = dt.datetime.now(dt.UTC)
    while True:
        try:
            now = dt.datetime.now(dt.UTC)
            if time.monotonic() - last_beat >= HEARTBEAT_EVERY:
                last_beat = time.monotonic()
                await jobs.heartbeat("web", "", 0, started)
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
