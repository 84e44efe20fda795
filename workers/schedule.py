"""Periodic work. Each run is idempotent (unique reminder rows, one digest job per person and
day), so it may run often, late, or on several workers at once."""

from __future__ import annotations

import datetime as dt
from typing import Any

from portal.documents import service as documents
from portal.notifications import service as notifications
from portal.reminders import service as reminders


async def periodic(now: dt.datetime) -> None:
    await documents.generate_items(now)
    await reminders.scan(now)
    await notifications.schedule_digests(now)
    await documents.remove_orphans(now)
    await documents.purge_deleted(now)


async def periodic_cron(ctx: dict[str, Any]) -> None:
    await periodic(dt.datetime.now(dt.UTC))
