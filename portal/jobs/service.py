"""The job layer: the outbox, the relay to Redis, and running one job.

Job lifecycle (one outbox row):
| from     | to      | who                       | function          | case                       |
|----------|---------|---------------------------|-------------------|----------------------------|
| -        | pending | any service               | `enqueue`         | in the caller's transaction|
| pending  | queued  | relay (web or worker)     | `relay_once`      | Redis reachable            |
| pending, | running | worker / in-process runner| `execute`         | claimed, leased to runner  |
|  queued  |         |                           |                   |                            |
| running  | done    | same                      | `execute`         | handler returned           |
| running  | pending | same                      | `execute`         | handler raised, retry later|
| running  | failed  | same                      | `execute`         | attempts exhausted         |
| running  | pending | relay                     | `release_abandoned`| lease expired: runner died|
| queued   | pending | relay                     | `reclaim_lost`    | Redis lost it (restarted)  |
| failed   | pending | platform administrator    | `retry`           | "Relancer" button          |

A job rolled back with its transaction never existed: nothing is handed to Redis before commit.
Handlers must be idempotent: a job can run again after a crash.

The runner holds a job under a lease (`PORTAL_JOB_LEASE`) that its heartbeat renews, so a killed
worker's jobs run again within the lease, not after the job timeout. A failure caused by an
outage (database, storage, mail server: `Unavailable`) is retried every `PORTAL_OUTAGE_RETRY`
seconds without counting as a failed attempt, so an outage of any length ends with every job
done and none given up. The outcome of a run is written again and again until the database
answers: the lock is released as soon as it is back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import random
import secrets
import socket
import time
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from redis.exceptions import RedisError

from portal.core import clock, db, mail
from portal.core.outage import Unavailable
from portal.core.scope import consortium_scope
from portal.jobs import repository
from portal.jobs.enums import Delivery, DeliveryState, JobStatus
from portal.jobs.registry import Handler, UnknownJob
from portal.settings import get_settings

log = logging.getLogger("portal.jobs")
PARIS = ZoneInfo("Europe/Paris")

RUN_OUTBOX_JOB = "run_outbox_job"  # the one arq function: runs an outbox row by id
QUEUED_TIMEOUT = dt.timedelta(minutes=10)
LOST_AFTER = dt.timedelta(seconds=10)  # queued longer than this: ask Redis whether it has it
ARQ_KEYS = ("arq:job:", "arq:in-progress:", "arq:result:")
_wakeup: asyncio.Event | None = None
_runner: str | None = None
_executing: set[uuid.UUID] = set()  # the jobs this process runs now: the heartbeat renews them


class JobTimeout(RuntimeError):
    """The handler ran past `PORTAL_JOB_TIMEOUT`: a failure of the job, counted."""


class QueueUnavailable(Unavailable):
    service = "redis"
    default_message = "La file des tâches (Redis) ne répond pas : les tâches attendent."


def backoff(attempts: int) -> dt.timedelta:
    """30 s, 2 min, 8 min, 32 min, then hourly."""
    return dt.timedelta(seconds=min(30 * 4 ** (attempts - 1), 3600))


def outage_delay() -> dt.timedelta:
    """`PORTAL_OUTAGE_RETRY`, ±20 % so that a backlog does not retry all at once."""
    base = get_settings().outage_retry_seconds
    return dt.timedelta(seconds=base * random.uniform(0.8, 1.2))


def runner_id() -> str:
    """This process, as the owner of the jobs it runs."""
    global _runner
    if _runner is None or not _runner.startswith(f"{socket.gethostname()}:{os.getpid()}:"):
        _runner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
    return _runner


def wakeup_event() -> asyncio.Event:
    global _wakeup
    if _wakeup is None:
        _wakeup = asyncio.Event()
    return _wakeup


def is_outage(exc: BaseException) -> bool:
    return isinstance(exc, Unavailable) or db.unavailable(exc)


async def persist(write: Callable[[], Awaitable[Any]], what: str) -> bool:
    """Runs one database write until it succeeds, while the database is away (bounded by the
    lease: past it another runner takes the job over). False if it never went through."""
    deadline = time.monotonic() + get_settings().job_lease_seconds
    delay = 0.25
    warned = False
    while True:
        try:
            await write()
            if warned:
                log.info("Base de données revenue : %s enregistré", what)
            return True
        except Exception as exc:
            if not is_outage(exc) or time.monotonic() + delay > deadline:
                log.error("Impossible d'enregistrer %s : %s", what, exc)
                return False
            if not warned:
                log.warning("Base de données injoignable, %s en attente : %s", what, exc)
                warned = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)


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
        run_after or clock.now(),
        dedup_key,
        max_attempts,
    )
    wakeup_event().set()
    return job_id


async def relay_once(redis: Any, limit: int = 500) -> int:
    """Hands due outbox rows to Redis. Stops at the first Redis error: the rows stay pending."""
    at = clock.now()
    await release_abandoned(at)
    relayed = 0
    for row in await repository.due(at, limit):
        # Unique per hand-over: arq ignores a job id it still remembers (its result is kept).
        queued_as = f"outbox:{row['id']}:{row['attempts']}:{secrets.token_hex(4)}"
        if not await repository.mark_queued(row["id"], at, queued_as):
            continue  # another relay took it
        try:
            await redis.enqueue_job(RUN_OUTBOX_JOB, str(row["id"]), _job_id=queued_as)
        except (RedisError, OSError) as exc:
            await repository.back_to_pending(row["id"], at)
            raise QueueUnavailable(str(exc)) from exc
        relayed += 1
    return relayed


async def release_abandoned(at: dt.datetime) -> int:
    released = await repository.release_abandoned(at, at - QUEUED_TIMEOUT)
    if released:
        log.warning("%s tâche(s) abandonnée(s) par leur exécutant, remise(s) en file", released)
    return released


async def reclaim_lost(redis: Any, limit: int = 500) -> int:
    """Jobs marked queued that Redis no longer has (it restarted empty, or was flushed) go back
    to the outbox at once, instead of after `QUEUED_TIMEOUT`."""
    at = clock.now()
    rows = [r for r in await repository.queued_before(at - LOST_AFTER, limit) if r["queued_as"]]
    if not rows:
        return 0
    try:
        async with redis.pipeline(transaction=False) as pipe:
            for row in rows:
                pipe.exists(*(prefix + row["queued_as"] for prefix in ARQ_KEYS))
            known = await pipe.execute()
    except (RedisError, OSError) as exc:
        raise QueueUnavailable(str(exc)) from exc
    reclaimed = 0
    for row, count in zip(rows, known, strict=True):
        if not count and await repository.back_to_pending(row["id"], at, row["queued_as"]):
            reclaimed += 1
    if reclaimed:
        log.warning("%s tâche(s) perdue(s) par Redis remise(s) dans l'outbox", reclaimed)
    return reclaimed


async def execute(job_id: uuid.UUID, handlers: Mapping[str, Handler]) -> JobStatus | None:
    """Runs one outbox job if it can be claimed; returns its new status (None: not claimed)."""
    settings = get_settings()
    at = clock.now()
    lease = dt.timedelta(seconds=settings.job_lease_seconds)
    try:
        job = await repository.claim(job_id, at, at + lease, runner_id())
    except Exception as exc:
        if is_outage(exc) and job_id not in _executing:
            # The claim may have been committed, its answer lost: once the database answers,
            # the job is given back rather than left to wait for its lease.
            await persist(
                lambda: repository.give_back(job_id, runner_id(), clock.now()),
                f"la prise de la tâche {job_id}",
            )
        raise
    if job is None:
        return None
    name, attempt, runner = job["name"], job["attempts"], runner_id()
    started = time.monotonic()
    limit = asyncio.timeout(settings.job_timeout_seconds)
    _executing.add(job_id)
    try:
        try:
            handler = handlers.get(name)
            if handler is None:
                raise UnknownJob(name)
            # The consortium the job concerns, from its row (None: no tenant row).
            async with limit, consortium_scope(job.get("consortium_id")):
                await handler(job["payload"])
        except TimeoutError as exc:
            if not limit.expired():
                return await _failed(job, exc, started)  # the handler's own, e.g. a connect
            return await _failed(
                job, JobTimeout(f"plus de {settings.job_timeout_seconds} s"), started
            )
        except Exception as exc:  # every failure is recorded, then retried or given up
            return await _failed(job, exc, started)
        except asyncio.CancelledError:
            # Stopped from outside (shutdown): due again at once, for this or another runner.
            await asyncio.shield(
                persist(lambda: repository.give_back(job_id, runner, clock.now(), attempt), name)
            )
            raise
        elapsed = (time.monotonic() - started) * 1000
        # Still ours while its end is written: the heartbeat keeps renewing the lease.
        if await persist(
            lambda: repository.finish(job_id, attempt, runner, clock.now()), f"la fin de {name}"
        ):
            log.info("Tâche %s %s, essai %s : terminée en %.0f ms", name, job_id, attempt, elapsed)
        else:
            log.warning(
                "Tâche %s %s, essai %s : terminée en %.0f ms, fin non enregistrée : elle sera "
                "relancée à l'expiration de son bail",
                name,
                job_id,
                attempt,
                elapsed,
            )
    finally:
        _executing.discard(job_id)
    return JobStatus.DONE


async def _failed(job: dict[str, Any], exc: Exception, started: float) -> JobStatus:
    job_id, name, attempt = job["id"], job["name"], job["attempts"]
    error = "".join(traceback.format_exception_only(exc)).strip()
    elapsed = (time.monotonic() - started) * 1000
    if is_outage(exc):
        retry_at: dt.datetime | None = clock.now() + outage_delay()
        counted = False
        status = JobStatus.PENDING
    else:
        exhausted = attempt >= job["max_attempts"]
        retry_at = None if exhausted else clock.now() + backoff(attempt)
        counted = True
        status = JobStatus.FAILED if exhausted else JobStatus.PENDING
    await persist(
        lambda: repository.fail(
            job_id, attempt, runner_id(), error, retry_at, clock.now(), counted
        ),
        f"l'échec de {name}",
    )
    outcome = (
        f"nouvelle tentative à {retry_at.astimezone(PARIS):%H:%M:%S}" if retry_at else "abandonnée"
    )
    log.warning(
        "Tâche %s %s, essai %s : %s en %.0f ms (%s), %s",
        name,
        job_id,
        attempt,
        "service indisponible" if not counted else "échec",
        elapsed,
        error,
        outcome,
    )
    return status


def heartbeat_every() -> float:
    """Four beats per lease: a runner's jobs outlive a few missed beats, not its death."""
    return max(1.0, min(10.0, get_settings().job_lease_seconds / 4))


async def heartbeat(kind: str, redis_state: str, running: int, started_at: dt.datetime) -> None:
    """Tells `/healthz` this runner is alive and extends the lease of the jobs it runs."""
    at = clock.now()
    runner = runner_id()
    await repository.beat(
        {
            "id": runner,
            "kind": kind,
            "hostname": socket.gethostname(),
            "pid": os.getpid(),
            "redis": redis_state,
            "running": running,
            "started_at": started_at,
            "seen_at": at,
        }
    )
    until = at + dt.timedelta(seconds=get_settings().job_lease_seconds)
    await repository.renew(sorted(_executing), runner, until, at)


async def runners(within: dt.timedelta) -> list[dict[str, Any]]:
    return await repository.runners_seen(clock.now() - within)


async def last_runner_seen() -> dt.datetime | None:
    return await repository.last_runner_seen()


async def forget_runners(at: dt.datetime) -> None:
    await repository.forget_runners(at - dt.timedelta(days=1))


async def schedule_of(job_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """Status, attempts and next run of these jobs (for domains that show their progress)."""
    return {row["id"]: row for row in await repository.of_ids(job_ids)}


async def run_due(handlers: Mapping[str, Handler], limit: int = 100) -> int:
    """In-process mode (no Redis): runs the due outbox rows here."""
    at = clock.now()
    await release_abandoned(at)
    ran = 0
    for row in await repository.due(at, limit):
        if await execute(row["id"], handlers) is not None:
            ran += 1
    return ran


async def failed_jobs() -> list[dict[str, Any]]:
    return await repository.by_status(JobStatus.FAILED)


async def retry(job_id: uuid.UUID) -> bool:
    done = await repository.retry_failed(job_id, clock.now())
    wakeup_event().set()
    return done


async def get(job_id: uuid.UUID) -> dict[str, Any] | None:
    return await repository.get(job_id)


async def backlog() -> tuple[int, float | None]:
    """(jobs due and waiting, age in seconds of the oldest one)."""
    at = clock.now()
    count, oldest = await repository.backlog(at)
    return count, (at - oldest).total_seconds() if oldest else None


async def deliver_once(key: str, message: EmailMessage, policy: Delivery) -> bool:
    """Sends `message` once per `key`; returns whether it was handed to the server now.

    Its intent is committed before the message goes to SMTP, its acceptance after. A run that
    finds an intent never confirmed (the runner died, or the connection broke after the message
    was handed over: SMTP offers no way to ask the server) follows `policy`: notifications are
    not sent again (at most once), access e-mails are (at least once). The Message-ID is the
    same at every attempt, so mail clients merge a copy sent twice."""
    if db.in_transaction():
        raise RuntimeError("deliver_once() must run outside a transaction")
    recipient = str(message["To"])
    del message["Message-ID"]
    message["Message-ID"] = mail.message_id(key, recipient, get_settings().base_url)
    found = await repository.delivery(key)
    if found is not None and found["state"] == DeliveryState.SENT:
        return False
    if found is not None and policy is Delivery.AT_MOST_ONCE:
        log.warning(
            "E-mail %s : remise non confirmée lors d'un essai précédent, pas de nouvel envoi "
            "(au plus une fois)",
            message["Message-ID"],
        )
        await repository.set_delivery(key, DeliveryState.UNCERTAIN, clock.now())
        return False
    if found is None:
        await repository.insert_intent(
            key, recipient, str(message["Subject"])[:300], str(message["Message-ID"]), clock.now()
        )
    else:
        await repository.retry_intent(key, clock.now())
    try:
        await mail.send(message)
    except mail.MailUncertain:
        await persist(
            lambda: repository.set_delivery(key, DeliveryState.UNCERTAIN, clock.now()),
            f"l'envoi incertain de {key}",
        )
        if policy is Delivery.AT_MOST_ONCE:
            log.warning("E-mail %s : remise incertaine, pas de nouvel envoi", message["Message-ID"])
            return False
        raise
    except mail.MailFailure:
        await persist(lambda: repository.drop_intent(key), f"l'échec d'envoi de {key}")
        raise
    await persist(
        lambda: repository.set_delivery(key, DeliveryState.SENT, clock.now()), f"la remise de {key}"
    )
    return True


async def uncertain_deliveries() -> list[dict[str, Any]]:
    return await repository.deliveries_by_state(DeliveryState.UNCERTAIN)
