"""Job contracts of the notifications domain (handlers in `workers/notifications.py`)."""

from __future__ import annotations

import datetime as dt
import uuid

from portal.jobs import service as jobs

SEND_EMAIL = "notifications.send_email"
SEND_DIGEST = "notifications.send_digest"


async def enqueue_email(notification_id: uuid.UUID, run_after: dt.datetime) -> None:
    await jobs.enqueue(SEND_EMAIL, {"notification_id": str(notification_id)}, run_after=run_after)


async def enqueue_digest(user_id: uuid.UUID, day: dt.date) -> None:
    # One digest per person and day, however many schedulers ask.
    await jobs.enqueue(
        SEND_DIGEST,
        {"user_id": str(user_id), "day": day.isoformat()},
        dedup_key=f"digest:{user_id}:{day.isoformat()}",
    )
