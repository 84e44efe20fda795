"""The job layer: the outbox, the relay to Redis, and running one job.

Job lifecycle (one outbox row):
| from     | to      | who                       | function          | case                       |
|----------|---------|---------------------------|-------------------|----------------------------|
| -        | pending | any service               | `enqueue`         | in the caller's transaction|
| pending  | queued  | relay (web or worker)     | `relay_once`      | Redis reachable            |
| pending, | running | worker / in-process runner| `execute`         | claimed, locked for timeout|
|  queued  |         |                           |                   |                            |
| running  | done    | same                      | `execute`         | handler returned           |
| running  | pending | same                      | `execute`         | handler raised, retry later|
| running  | failed  | same                      | `execute`         | attempts exhausted         |
| running, | pending | relay                     | `release_abandoned`| worker died / Redis lost  |
|  queued  |         |                           |                   |                            |
| failed   | pending | platform administrator    | `retry`           | "Relancer" button          |

A job rolled back with its transaction never existed: nothing is handed to Redis before commit.
Handlers must be idempotent: a job can run again after a crash.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import traceback
import uuid
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from redis.exceptions import RedisError

from portal.core import mail
from portal.jobs import repository
from portal.jobs.enums import JobStatus
from portal.jobs.registry import Handler, UnknownJob
from portal.settings import get_settings

log = logging.getLogger("portal.jobs")

RUN_OUTBOX_JOB = "run_outbox_job"  # the one arq function: runs an outbox row by id
QUEUED_TIMEOUT = dt.timedelta(minutes=10)
_wakeup: asyncio.Event | None = None


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 2 min, 8 min, 32 min, then hourly."""
    return dt.timedelta(seconds=min(30 * 4 ** (attempts - 1), 3600))


def wakeup_event() -> asyncio.Event:
    global _wakeup
    if _wakeup is None:
        _wakeup = asyncio.Event()
    return _wakeup


async def enqueue(
    name: str,
    payload: dict[str, Any],
    *,
    consortium_id: uuid.UUID | None = None,
    run_after: dt.datetime | None = None,
    dedup_key: str | None = None,
    max_attempts: int = 5,
) -> uuid.UUID | None:
    """Writes the job in the current transaction; it runs after commit. Returns None when a job
    with the same `dedup_key` exists already."""
    job_id = await repository.insert(
        name,
        payload,
        consortium_id,
        run_after or now(),
        dedup_key,
        max_attempts,
    )
    wakeup_event().set()
    return job_id


async def relay_once(redis: Any, limit: int = 500) -> int:
    """Hands due outbox rows to Redis. Stops at the first Redis error: the rows stay pending."""
    at = now()
    await repository.release_abandoned(at, at - QUEUED_TIMEOUT)
    relayed = 0
    for row in await repository.due(at, limit):
        if not await repository.mark_queued(row["id"], at):
            continue  # another relay took it
        try:
            await redis.enqueue_job(
                RUN_OUTBOX_JOB, str(row["id"]), _job_id=f"outbox:{row['id']}:{row['attempts']}"
            )
        except (RedisError, OSError) as exc:
            await repository.back_to_pending(row["id"], at)
            log.warning("Redis injoignable, %s reste dans l'outbox : %s", row["id"], exc)
            raise
        relayed += 1
    return relayed


async def execute(job_id: uuid.UUID, handlers: Mapping[str, Handler]) -> JobStatus | None:
    """Runs one outbox job if it can be claimed; returns its new status (None: not claimed)."""
    at = now()
    timeout = get_settings().job_timeout_seconds
    job = await repository.claim(job_id, at, at + dt.timedelta(seconds=timeout))
    if job is None:
        return None
    try:
        handler = handlers.get(job["name"])
        if handler is None:
            raise UnknownJob(job["name"])
        await asyncio.wait_for(handler(job["payload"]), timeout=timeout)
    except Exception as exc:  # every failure is recorded, then retried or given up
        error = "".join(traceback.format_exception_only(exc)).strip()
        exhausted = job["attempts"] >= job["max_attempts"]
        retry_at = None if exhausted else now() + backoff(job["attempts"])
        await repository.fail(job_id, job["attempts"], error, retry_at, now())
        log.warning(
            "Job %s (%s) en échec, essai %s : %s", job["name"], job_id, job["attempts"], error
        )
        return JobStatus.FAILED if exhausted else JobStatus.PENDING
    await repository.finish(job_id, job["attempts"], now())
    return JobStatus.DONE


async def run_due(handlers: Mapping[str, Handler], limit: int = 100) -> int:
    """In-process mode (no Redis): runs the due outbox rows here."""
    at = now()
    await repository.release_abandoned(at, at - QUEUED_TIMEOUT)
    ran = 0
    for row in await repository.due(at, limit):
        if await execute(row["id"], handlers) is not None:
            ran += 1
    return ran


async def failed_jobs() -> list[dict[str, Any]]:
    return await repository.by_status(JobStatus.FAILED)


async def retry(job_id: uuid.UUID) -> bool:
    done = await repository.retry_failed(job_id, now())
    wakeup_event().set()
    return done


async def get(job_id: uuid.UUID) -> dict[str, Any] | None:
    return await repository.get(job_id)


async def backlog() -> tuple[int, float | None]:
    """(jobs due and waiting, age in seconds of the oldest one)."""
    at = now()
    count, oldest = await repository.backlog(at)
    return count, (at - oldest).total_seconds() if oldest else None


async def deliver_once(key: str, message: EmailMessage) -> bool:
    """Sends `message` unless a message with this key was already handed to the SMTP server.
    Returns False when it had been. (A crash in the instant between the server's acceptance and
    this record would send it again: at least once, never lost.)"""
    if await repository.delivered(key):
        return False
    await mail.send(message)
    await repository.record_delivery(key, str(message["To"]), str(message["Subject"]))
    return True
