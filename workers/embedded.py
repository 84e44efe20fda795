"""The embedded default: with no Redis, the web process runs the outbox jobs itself."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging

from portal.jobs import service as jobs
from workers.handlers import HANDLERS
from workers.schedule import periodic

log = logging.getLogger("workers.embedded")


PERIODIC_EVERY = dt.timedelta(minutes=5)


async def run_forever() -> None:
    wakeup = jobs.wakeup_event()
    last_periodic: dt.datetime | None = None
    while True:
        try:
            now = dt.datetime.now(dt.UTC)
            if last_periodic is None or now - last_periodic >= PERIODIC_EVERY:
                last_periodic = now
                await periodic(now)
            await jobs.run_due(HANDLERS)
        except Exception:  # keep serving; the jobs stay in the outbox
            log.exception("Exécution des tâches interrompue")
        wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=1.0)
