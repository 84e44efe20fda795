"""The embedded default: with no Redis, the web process runs the outbox jobs itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from portal.jobs import service as jobs
from workers.handlers import HANDLERS

log = logging.getLogger("workers.embedded")


async def run_forever() -> None:
    wakeup = jobs.wakeup_event()
    while True:
        try:
            await jobs.run_due(HANDLERS)
        except Exception:  # keep serving; the jobs stay in the outbox
            log.exception("Exécution des tâches interrompue")
        wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=1.0)
