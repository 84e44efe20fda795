"""The loop that hands committed outbox rows to Redis (web processes and workers run one).
It never stops: while Redis or the database is away the rows wait in the outbox, and each
change of state is logged once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from portal.core import db
from portal.jobs import service as jobs

log = logging.getLogger("workers.relay")
IDLE_SECONDS = 1.0
RETRY_SECONDS = 5.0
RECLAIM_EVERY = 5.0  # seconds between asking Redis for the jobs it may have lost


async def relay_forever(redis: Any) -> None:
    wakeup = jobs.wakeup_event()
    trouble = ""
    last_reclaim = 0.0
    while True:
        try:
            await jobs.relay_once(redis)
            if time.monotonic() - last_reclaim > RECLAIM_EVERY:
                last_reclaim = time.monotonic()
                await jobs.reclaim_lost(redis)
            if trouble:
                log.info("Relais de l'outbox rétabli (%s revenu)", trouble)
                trouble = ""
        except jobs.QueueUnavailable as exc:
            if trouble != "Redis":
                log.warning("Redis injoignable : les tâches attendent dans l'outbox (%s)", exc)
                trouble = "Redis"
            await asyncio.sleep(RETRY_SECONDS)
        except Exception as exc:  # the database, or a bug: the loop must go on
            if db.unavailable(exc):
                if trouble != "base de données":
                    log.warning("Base de données injoignable : relais suspendu (%s)", exc)
                    trouble = "base de données"
            else:
                log.exception("Relais de l'outbox interrompu")
            await asyncio.sleep(RETRY_SECONDS)
        wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=IDLE_SECONDS)
