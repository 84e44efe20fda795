"""Retention of households' data: identity, diagnostic, alerts, consents and notes are erased
two years after the last contact (`portal.households.contact`); the référent is warned 30 days
before; a legal hold suspends it.

Erasure removes, in one transaction, every row of the household, and its stored files first
(a file already gone is fine: the scan is run again until the rows go). It keeps a tombstone
(pseudonym, when, why) and anonymised counts (month of orientation, last step, exit reason),
so that indicators stay true. The periodic scan runs it; each step may run twice."""

from __future__ import annotations

import datetime as dt
from typing import Any

from portal.core import periodic as units
from portal.core.db import transaction
from portal.core.tenancy import TenantScope
from portal.households import repository
from portal.notifications import service as notifications
from portal.objects import service as objects
from portal.tenants import service as tenants

KEEP = dt.timedelta(days=730)
WARN_BEFORE = dt.timedelta(days=30)
REASON = "Deux ans sans contact avec le ménage"


async def scan(now: dt.datetime) -> int:
    """Warns, then erases, in each active consortium; returns how many households it erased."""
    erased = 0
    for consortium in await tenants.active_consortia():
        scope = TenantScope.for_platform(
            consortium["id"], reason="the retention scan goes through each active consortium"
        )
        async with units.unit(
            "conservation des données des ménages", consortium=scope.consortium_id
        ):
            erased += await _scan_consortium(scope, consortium["slug"], now)
    return erased


async def _scan_consortium(scope: TenantScope, slug: str, now: dt.datetime) -> int:
    erased = 0
    for row in await repository.idle_since(scope, now - KEEP + WARN_BEFORE):
        if row["legal_hold"]:
            continue
        if row["last_contact_at"] <= now - KEEP:
            await erase(scope, row, REASON, now)
            erased += 1
        elif row["retention_warned_at"] is None:
            await _warn(scope, slug, row, now)
    return erased


async def _warn(scope: TenantScope, slug: str, row: dict[str, Any], now: dt.datetime) -> None:
    recipients = [row["referent"]] if row["referent"] else []
    if not recipients:
        recipients = await tenants.active_members_of(scope, row["association"])
    on = (row["last_contact_at"] + KEEP).astimezone(dt.UTC).date()
    async with transaction():
        await repository.update_household(scope, row["id"], {"retention_warned_at": now})
        await notifications.notify(
            recipients,
            kind="household_retention",
            title=(
                f"Les données du ménage {row['pseudonym']} seront effacées le "
                f"{on:%d/%m/%Y} faute de contact"
            ),
            link=f"/c/{slug}/menages/{row['id']}",
            subject=f"household-retention:{row['id']}",
            consortium_id=scope.consortium_id,
            at=now,
        )


async def erase(scope: TenantScope, row: dict[str, Any], reason: str, now: dt.datetime) -> None:
    for key in await repository.evidence_keys(scope, row["id"]):
        await objects.remove(key)  # a file already gone is no error
    async with transaction():
        await repository.erase(scope, row["id"])
        await repository.insert_tombstone(scope, row["pseudonym"], now, reason)
        await repository.add_erased_count(
            scope,
            row["oriented_on"].strftime("%Y-%m"),
            row["step"],
            row["exit_reason"] or "",
        )
