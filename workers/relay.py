"""The loop that hands committed outbox rows to Redis (web processes and workers run one)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from redis.exceptions import RedisError

from portal.jobs import service as jobs

log = logging.getLogger("workers.relay")
IDLE_SECONDS = 1.0


async def relay_forever(redis: Any) -> None:
    wakeup = jobs.wakeup_event()
    while True:
        try:
            await jobs.relay_once(redis)
        except (RedisError, OSError):
            await asyncio.sleep(5)  # Redis away: rows wait in the outbox, nothing is lost
        except Exception:  # a database hiccup must not stop the loop
            log.exception("Relais de l'outbox interrompu")
            await asyncio.sleep(5)
        wakeup.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wakeup.wait(), timeout=IDLE_SECONDS)
