"""The arq worker's settings, which `workers.worker` (the `portal worker` process) runs.

The queue carries only outbox ids; the outbox row holds the job's state, so a job whose worker
dies is found again (its lease expires) and several workers can run side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Retry

from portal.jobs import service as jobs
from portal.settings import WORKER_NEEDS_REDIS, get_settings
from workers.handlers import HANDLERS
from workers.relay import relay_forever
from workers.schedule import periodic_cron

CLAIM_RETRY_SECONDS = 5  # the database was away when the job arrived: arq hands it back then


class Running:
    """Jobs in progress in this process, for the heartbeat."""

    count = 0


async def run_outbox_job(ctx: dict[str, Any], outbox_id: str) -> str | None:
    Running.count += 1
    try:
        status = await jobs.execute(uuid.UUID(outbox_id), HANDLERS)
    except Exception as exc:
        # Only the claim or the handler's outcome can get here, and only when the database did
        # not answer: the row is untouched, arq delivers the job again.
        if jobs.is_outage(exc):
            raise Retry(defer=CLAIM_RETRY_SECONDS) from exc
        raise
    finally:
        Running.count -= 1
    return status.value if status else None


async def startup(ctx: dict[str, Any]) -> None:
    ctx["relay"] = asyncio.create_task(relay_forever(ctx["redis"]))
    on_connect = ctx.get("on_connect")
    if on_connect:
        on_connect()


async def shutdown(ctx: dict[str, Any]) -> None:
    relay: asyncio.Task[None] | None = ctx.pop("relay", None)
    if relay:
        relay.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await relay


def redis_settings() -> RedisSettings:
    url = get_settings().redis_url
    if not url:
        raise RuntimeError(WORKER_NEEDS_REDIS)
    found = RedisSettings.from_dsn(url)
    # One quick try: the supervisor waits and tries again, and logs it once.
    found.conn_retries = 0
    found.conn_timeout = 2
    return found


class WorkerSettings:
    functions: ClassVar[list[Any]] = [run_outbox_job]
    # Every 15 minutes; arq runs each tick on one worker only.
    cron_jobs: ClassVar[list[Any]] = [
        cron(periodic_cron, minute={0, 15, 30, 45}, run_at_startup=True)
    ]
    on_startup = startup
    on_shutdown = shutdown
    timezone = ZoneInfo("Europe/Paris")
    # The outbox row decides retries; arq only re-delivers a job whose worker vanished, or one
    # that arrived while the database was away.
    max_tries = 1000
    # The handler's timeout, then the time to record its outcome while the database is away.
    job_timeout = get_settings().job_timeout_seconds + get_settings().job_lease_seconds + 30
    keep_result = 60
    redis_settings = redis_settings() if get_settings().redis_url else RedisSettings()
    # Our own supervisor handles signals and Redis outages (see `workers.worker`).
    handle_signals = False
