"""Queries on the outbox and the mail delivery log. Every state change is one conditional UPDATE,
so two workers (or two web processes) can never claim the same job."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

from piccolo.query.mixins import OnConflictAction

from portal.jobs.enums import DeliveryState, JobStatus
from portal.jobs.tables import MailDelivery, OutboxJob, Runner

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


async def mark_queued(job_id: uuid.UUID, now: dt.datetime, queued_as: str) -> bool:
    rows = (
        await OutboxJob.update(
            {
                OutboxJob.status: JobStatus.QUEUED,
                OutboxJob.updated_at: now,
                OutboxJob.queued_as: queued_as,
            }
        )
        .where((OutboxJob.id == job_id) & (OutboxJob.status == JobStatus.PENDING))
        .returning(OutboxJob.id)
    )
    return bool(rows)


async def back_to_pending(
    job_id: uuid.UUID, now: dt.datetime, queued_as: str | None = None
) -> bool:
    condition = (OutboxJob.id == job_id) & (OutboxJob.status == JobStatus.QUEUED)
    if queued_as is not None:
        condition &= OutboxJob.queued_as == queued_as
    rows = (
        await OutboxJob.update({OutboxJob.status: JobStatus.PENDING, OutboxJob.updated_at: now})
        .where(condition)
        .returning(OutboxJob.id)
    )
    return bool(rows)


async def queued_before(before: dt.datetime, limit: int) -> list[Row]:
    rows: list[Row] = (
        await OutboxJob.select(OutboxJob.id, OutboxJob.queued_as)
        .where((OutboxJob.status == JobStatus.QUEUED) & (OutboxJob.updated_at < before))
        .order_by(OutboxJob.updated_at)
        .limit(limit)
    )
    return rows


async def claim(
    job_id: uuid.UUID, now: dt.datetime, lock_until: dt.datetime, runner: str
) -> Row | None:
    rows = (
        await OutboxJob.update(
            {
                OutboxJob.status: JobStatus.RUNNING,
                OutboxJob.attempts: OutboxJob.attempts + 1,
                OutboxJob.locked_until: lock_until,
                OutboxJob.locked_by: runner,
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
            OutboxJob.consortium_id,
        )
    )
    return _payload(rows[0]) if rows else None


async def finish(job_id: uuid.UUID, attempts: int, runner: str, now: dt.datetime) -> None:
    # The runner and the attempt guard against a late finish from a runner whose lease expired.
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
        & (OutboxJob.locked_by == runner)
    )


async def fail(
    job_id: uuid.UUID,
    attempts: int,
    runner: str,
    error: str,
    retry_at: dt.datetime | None,
    now: dt.datetime,
    counted: bool = True,
) -> None:
    """`counted=False`: an outage, not a failure of the job; the attempt is given back."""
    await OutboxJob.update(
        {
            OutboxJob.status: JobStatus.PENDING if retry_at else JobStatus.FAILED,
            OutboxJob.attempts: attempts if counted else attempts - 1,
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
        & (OutboxJob.locked_by == runner)
    )


async def give_back(
    job_id: uuid.UUID, runner: str, now: dt.datetime, attempts: int | None = None
) -> bool:
    """Back to the outbox, due now, the attempt not counted: a run stopped from outside (the
    process shutting down, `attempts` known), or a claim whose answer was lost and which may
    have been committed (then the job is this runner's, which is not running it)."""
    condition = (
        (OutboxJob.id == job_id)
        & (OutboxJob.status == JobStatus.RUNNING)
        & (OutboxJob.locked_by == runner)
    )
    if attempts is not None:
        condition &= OutboxJob.attempts == attempts
    rows = (
        await OutboxJob.update(
            {
                OutboxJob.status: JobStatus.PENDING,
                OutboxJob.attempts: OutboxJob.attempts - 1,
                OutboxJob.run_after: now,
                OutboxJob.locked_until: None,
                OutboxJob.updated_at: now,
            }
        )
        .where(condition)
        .returning(OutboxJob.id)
    )
    return bool(rows)


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


async def renew(
    job_ids: list[uuid.UUID], runner: str, until: dt.datetime, now: dt.datetime
) -> None:
    """Only the jobs this runner is executing right now, and only while their lease holds."""
    if not job_ids:
        return
    await OutboxJob.update({OutboxJob.locked_until: until}).where(
        OutboxJob.id.is_in(job_ids)
        & (OutboxJob.locked_by == runner)
        & (OutboxJob.status == JobStatus.RUNNING)
        & (OutboxJob.locked_until >= now)
    )


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


async def of_ids(job_ids: list[uuid.UUID]) -> list[Row]:
    if not job_ids:
        return []
    rows: list[Row] = await OutboxJob.select(
        OutboxJob.id,
        OutboxJob.status,
        OutboxJob.attempts,
        OutboxJob.max_attempts,
        OutboxJob.run_after,
        OutboxJob.last_error,
    ).where(OutboxJob.id.is_in(job_ids))
    return rows


# E-mail deliveries ------------------------------------------------------------------------


async def delivery(key: str) -> Row | None:
    row: Row | None = await MailDelivery.select().where(MailDelivery.key == key).first()
    return row


async def insert_intent(
    key: str, recipient: str, subject: str, message_id: str, now: dt.datetime
) -> None:
    await MailDelivery.insert(
        MailDelivery(
            key=key,
            recipient=recipient,
            subject=subject,
            message_id=message_id,
            state=DeliveryState.INTENT,
            attempts=1,
            sent_at=now,
        )
    ).on_conflict(target=MailDelivery.key, action=OnConflictAction.do_nothing)


async def retry_intent(key: str, now: dt.datetime) -> None:
    await MailDelivery.update(
        {
            MailDelivery.state: DeliveryState.INTENT,
            MailDelivery.attempts: MailDelivery.attempts + 1,
            MailDelivery.sent_at: now,
        }
    ).where(MailDelivery.key == key)


async def set_delivery(key: str, state: DeliveryState, now: dt.datetime) -> None:
    await MailDelivery.update({MailDelivery.state: state, MailDelivery.sent_at: now}).where(
        MailDelivery.key == key
    )


async def drop_intent(key: str) -> None:
    """The server surely did not take it: the next attempt sends as if never tried."""
    await MailDelivery.delete().where(
        (MailDelivery.key == key) & (MailDelivery.state == DeliveryState.INTENT)
    )


async def deliveries_by_state(state: DeliveryState, limit: int = 200) -> list[Row]:
    rows: list[Row] = (
        await MailDelivery.select()
        .where(MailDelivery.state == state)
        .order_by(MailDelivery.sent_at, ascending=False)
        .limit(limit)
    )
    return rows


# Runners ------------------------------------------------------------------------------------


async def beat(row: Row) -> None:
    await Runner.insert(Runner(**row)).on_conflict(
        target=Runner.id,
        action="DO UPDATE",
        values=[Runner.seen_at, Runner.redis, Runner.running],
    )


async def runners_seen(since: dt.datetime) -> list[Row]:
    rows: list[Row] = (
        await Runner.select()
        .where(Runner.seen_at >= since)
        .order_by(Runner.seen_at, ascending=False)
    )
    return rows


async def last_runner_seen() -> dt.datetime | None:
    row = await Runner.select(Runner.seen_at).order_by(Runner.seen_at, ascending=False).first()
    return row["seen_at"] if row else None


async def forget_runners(before: dt.datetime) -> None:
    await Runner.delete().where(Runner.seen_at < before)
