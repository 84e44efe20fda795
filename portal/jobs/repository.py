"""Queries on the outbox and the mail delivery log. Every state change is one conditional UPDATE,
so two workers (or two web processes) can never claim the same job."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from piccolo.query.mixins import OnConflictAction

from portal.jobs.enums import JobStatus
from portal.jobs.tables import MailDelivery, OutboxJob

Row = dict[str, Any]


def _payload(row: Row) -> Row:
    if isinstance(row.get("payload"), str):
        row["payload"] = json.loads(row["payload"])
    return row


async def insert(
    name: str,
    payload: dict[str, Any],
    consortium_id: uuid.UUID | None,
    run_after: dt.datetime,
    dedup_key: str | None,
    max_attempts: int,
) -> uuid.UUID | None:
    """None when a job with the same `dedup_key` already exists."""
    job_id = uuid.uuid4()
    rows = (
        await OutboxJob.insert(
            OutboxJob(
                id=job_id,
                name=name,
                payload=payload,
                consortium_id=consortium_id,
                status=JobStatus.PENDING,
                run_after=run_after,
                dedup_key=dedup_key,
                max_attempts=max_attempts,
            )
        )
        .on_conflict(target=OutboxJob.dedup_key, action=OnConflictAction.do_nothing)
        .returning(OutboxJob.id)
    )
    return job_id if rows else None


async def due(now: dt.datetime, limit: int) -> list[Row]:
    rows: list[Row] = (
        await OutboxJob.select(OutboxJob.id, OutboxJob.attempts)
        .where((OutboxJob.status == JobStatus.PENDING) & (OutboxJob.run_after <= now))
        .order_by(OutboxJob.run_after)
        .limit(limit)
    )
    return rows


async def mark_queued(job_id: uuid.UUID, now: dt.datetime) -> bool:
    rows = (
        await OutboxJob.update({OutboxJob.status: JobStatus.QUEUED, OutboxJob.updated_at: now})
        .where((OutboxJob.id == job_id) & (OutboxJob.status == JobStatus.PENDING))
        .returning(OutboxJob.id)
    )
    return bool(rows)


async def back_to_pending(job_id: uuid.UUID, now: dt.datetime) -> None:
    await OutboxJob.update({OutboxJob.status: JobStatus.PENDING, OutboxJob.updated_at: now}).where(
        (OutboxJob.id == job_id) & (OutboxJob.status == JobStatus.QUEUED)
    )


async def claim(job_id: uuid.UUID, now: dt.datetime, lock_until: dt.datetime) -> Row | None:
    rows = (
        await OutboxJob.update(
            {
                OutboxJob.status: JobStatus.RUNNING,
                OutboxJob.attempts: OutboxJob.attempts + 1,
                OutboxJob.locked_until: lock_until,
                OutboxJob.updated_at: now,
            }
        )
        .where(
            (OutboxJob.id == job_id)
            & OutboxJob.status.is_in([JobStatus.PENDING, JobStatus.QUEUED])
            & (OutboxJob.run_after <= now)
        )
        .returning(
            OutboxJob.id,
            OutboxJob.name,
            OutboxJob.payload,
            OutboxJob.attempts,
            OutboxJob.max_attempts,
        )
    )
    return _payload(rows[0]) if rows else None


async def finish(job_id: uuid.UUID, attempts: int, now: dt.datetime) -> None:
    # `attempts` guards against a late finish from a worker whose lock had expired.
    await OutboxJob.update(
        {
            OutboxJob.status: JobStatus.DONE,
            OutboxJob.finished_at: now,
            OutboxJob.locked_until: None,
            OutboxJob.updated_at: now,
            OutboxJob.last_error: "",
        }
    ).where(
        (OutboxJob.id == job_id)
        & (OutboxJob.status == JobStatus.RUNNING)
        & (OutboxJob.attempts == attempts)
    )


async def fail(
    job_id: uuid.UUID, attempts: int, error: str, retry_at: dt.datetime | None, now: dt.datetime
) -> None:
    await OutboxJob.update(
        {
            OutboxJob.status: JobStatus.PENDING if retry_at else JobStatus.FAILED,
            OutboxJob.run_after: retry_at or now,
            OutboxJob.finished_at: None if retry_at else now,
            OutboxJob.locked_until: None,
            OutboxJob.last_error: error[:4000],
            OutboxJob.updated_at: now,
        }
    ).where(
        (OutboxJob.id == job_id)
        & (OutboxJob.status == JobStatus.RUNNING)
        & (OutboxJob.attempts == attempts)
    )


async def release_abandoned(now: dt.datetime, queued_before: dt.datetime) -> int:
    """Jobs whose worker died (lock expired) or that Redis lost (queued too long) go back to
    the outbox; the attempt already counted stays counted."""
    running = (
        await OutboxJob.update({OutboxJob.status: JobStatus.PENDING, OutboxJob.updated_at: now})
        .where((OutboxJob.status == JobStatus.RUNNING) & (OutboxJob.locked_until < now))
        .returning(OutboxJob.id)
    )
    queued = (
        await OutboxJob.update({OutboxJob.status: JobStatus.PENDING, OutboxJob.updated_at: now})
        .where((OutboxJob.status == JobStatus.QUEUED) & (OutboxJob.updated_at < queued_before))
        .returning(OutboxJob.id)
    )
    return len(running) + len(queued)


async def get(job_id: uuid.UUID) -> Row | None:
    row: Row | None = await OutboxJob.select().where(OutboxJob.id == job_id).first()
    return _payload(row) if row else None


async def by_status(status: JobStatus, limit: int = 200) -> list[Row]:
    rows: list[Row] = (
        await OutboxJob.select()
        .where(OutboxJob.status == status)
        .order_by(OutboxJob.updated_at, ascending=False)
        .limit(limit)
    )
    return [_payload(r) for r in rows]


async def retry_failed(job_id: uuid.UUID, now: dt.datetime) -> bool:
    rows = (
        await OutboxJob.update(
            {
                OutboxJob.status: JobStatus.PENDING,
                OutboxJob.attempts: 0,
                OutboxJob.run_after: now,
                OutboxJob.finished_at: None,
                OutboxJob.updated_at: now,
            }
        )
        .where((OutboxJob.id == job_id) & (OutboxJob.status == JobStatus.FAILED))
        .returning(OutboxJob.id)
    )
    return bool(rows)


async def backlog(now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """Jobs due and not yet run; those held for later (quiet hours, backoff) are not late."""
    waiting = OutboxJob.status.is_in([JobStatus.PENDING, JobStatus.QUEUED]) & (
        OutboxJob.run_after <= now
    )
    count: int = await OutboxJob.count().where(waiting)
    oldest = (
        await OutboxJob.select(OutboxJob.run_after)
        .where(waiting)
        .order_by(OutboxJob.run_after)
        .first()
    )
    return count, oldest["run_after"] if oldest else None


async def delivered(key: str) -> bool:
    return bool(await MailDelivery.exists().where(MailDelivery.key == key))


async def record_delivery(key: str, recipient: str, subject: str) -> None:
    await MailDelivery.insert(
        MailDelivery(key=key, recipient=recipient, subject=subject)
    ).on_conflict(target=MailDelivery.key, action=OnConflictAction.do_nothing)
