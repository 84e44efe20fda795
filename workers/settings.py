"""The arq worker: `portal worker` runs `WorkerSettings`.

The queue carries only outbox ids; the outbox row holds the job's state, so a job whose worker
dies is found again (its lock expires) and several workers can run side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from arq import cron
from arq.connections import RedisSettings

from portal.core import db
from portal.jobs import service as jobs
from portal.settings import get_settings
from workers.handlers import HANDLERS
from workers.relay import relay_forever
from workers.schedule import periodic_cron


async def run_outbox_job(ctx: dict[str, Any], outbox_id: str) -> str | None:
    status = await jobs.execute(uuid.UUID(outbox_id), HANDLERS)
    return status.value if status else None


async def startup(ctx: dict[str, Any]) -> None:
    await db.start()
    ctx["relay"] = asyncio.create_task(relay_forever(ctx["redis"]))


async def shutdown(ctx: dict[str, Any]) -> None:
    relay: asyncio.Task[None] | None = ctx.get("relay")
    if relay:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay
    await db.stop()


def redis_settings() -> RedisSettings:
    url = get_settings().redis_url
    if not url:
        raise RuntimeError("PORTAL_REDIS_URL n'est pas configuré : `portal worker` en a besoin.")
    return RedisSettings.from_dsn(url)


class WorkerSettings:
    functions: ClassVar[list[Any]] = [run_outbox_job]
    # Every 15 minutes; arq runs each tick on one worker only.
    cron_jobs: ClassVar[list[Any]] = [
        cron(periodic_cron, minute={0, 15, 30, 45}, run_at_startup=True)
    ]
    on_startup = startup
    on_shutdown = shutdown
    timezone = ZoneInfo("Europe/Paris")
    # The outbox row decides retries; arq only re-delivers a job whose worker vanished.
    max_tries = 1000
    job_timeout = get_settings().job_timeout_seconds + 30
    keep_result = 60
    redis_settings = redis_settings() if get_settings().redis_url else RedisSettings()
