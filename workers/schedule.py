"""Periodic work. Each run is idempotent (unique reminder rows, one digest job per person and
day, the ledger's sweep), so it may run often, late, or on several workers at once. One step
failing (storage down, say) does not stop the others, and within a step one consortium's
failing share (a row no code could write) delays only that share: logged without the row's
data, retried at the next run."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from portal.core import clock
from portal.core import periodic as units
from portal.core.scope import platform_scope
from portal.documents import service as documents
from portal.households import service as households
from portal.jobs import service as jobs
from portal.notifications import service as notifications
from portal.objects import service as objects
from portal.payments import exports as payment_exports
from portal.payments import service as payments
from portal.reminders import service as reminders
from portal.signing import schedule as signing

log = logging.getLogger("portal.schedule")


async def sweep_objects(now: dt.datetime) -> None:
    """Both ways: stored objects no row points at, rows whose object is gone. Every lost key
    is handed to its domain at each run (not only when first found): a run cut short by an
    outage leaves nothing unhandled, and the domain ignores what it already handled."""
    await objects.sweep(now)
    lost = await objects.missing_keys(documents.OWNER)
    if lost:
        await documents.objects_lost(lost, now)


STEPS: list[tuple[str, Callable[[dt.datetime], Awaitable[Any]]]] = [
    ("pièces périodiques", documents.generate_items),
    ("versements", payments.refresh_all),  # conditions met first, then reminders about them
    ("rappels", reminders.scan),
    ("données des ménages", households.apply_retention),
    ("résumés quotidiens", notifications.schedule_digests),
    ("stockage", sweep_objects),
    ("purge des pièces supprimées", documents.purge_deleted),
    ("exports anciens", payment_exports.remove_old),
    ("signatures", signing.scan),
    ("horodatage des journaux", signing.anchor_heads),
    ("exécutants disparus", jobs.forget_runners),
]


async def periodic(now: dt.datetime) -> int:
    """Runs every step; returns how many failed, steps and units within them (each is
    logged). The steps working consortium by consortium isolate each one's share
    (`portal.core.periodic.unit`): one consortium's bad row delays only its own work."""
    with units.tally() as tally:
        async with platform_scope("periodic work: scans, sweeps and purges of every consortium"):
            for label, step in STEPS:
                try:
                    await step(now)
                except Exception as exc:
                    if units.outage(exc):
                        tally.failed += 1
                        log.warning("Tâche périodique « %s » reportée : %s", label, exc)
                    else:
                        units.failed(label, exc)
    return tally.failed


async def periodic_cron(ctx: dict[str, Any]) -> None:
    await periodic(clock.now())
