"""Periodic work. Each run is idempotent (unique reminder rows, one digest job per person and
day), so it may run often, late, or on several workers at once."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from portal.documents import service as documents
from portal.notifications import service as notifications
from portal.payments import exports as payment_exports
from portal.payments import service as payments
from portal.reminders import service as reminders
from portal.signing import schedule as signing

log = logging.getLogger("portal.schedule")


async def periodic(now: dt.datetime) -> None:
    await documents.generate_items(now)
    await payments.refresh_all(now)  # conditions met first, then reminders about them
    await reminders.scan(now)
    await notifications.schedule_digests(now)
    await documents.remove_orphans(now)
    await documents.purge_deleted(now)
    await payment_exports.remove_old(now)
    await signing.scan(now)
    try:
        await signing.anchor_heads(now)
    except Exception:  # an unreachable authority must not stop the other work
        log.warning("Horodatage quotidien des journaux de signature impossible", exc_info=True)


async def periodic_cron(ctx: dict[str, Any]) -> None:
    await periodic(dt.datetime.now(dt.UTC))
