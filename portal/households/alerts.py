"""Alerts between the bailleur of the home and the association following the household.

The addressee's members are notified (pseudonym and kind only, never the note); an alert not
acknowledged within the consortium's delay is reminded by the reminder scan, once per step.
A court procedure suspended while support is tried is a timer: reminders go to both partners
before the suspension ends."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from portal.core import clock
from portal.core.db import transaction
from portal.core.forms import FieldError, check_date
from portal.core.permissions import Role
from portal.core.tenancy import TenantContext, TenantScope
from portal.households import reads, repository, sealing
from portal.households.access import Opened, require
from portal.households.contact import touch
from portal.households.enums import AlertKind, Part, Read
from portal.notifications import service as notifications
from portal.reminders.schedule import DueItem
from portal.tenants import service as tenants

FROM_LESSOR = (
    AlertKind.UNPAID_RENT,
    AlertKind.NEIGHBOURHOOD,
    AlertKind.DAMAGE,
    AlertKind.NO_ANSWER,
    AlertKind.SUPPORT_BREAK,
    AlertKind.OTHER,
)
FROM_ASSOCIATION = (
    AlertKind.TECHNICAL,
    AlertKind.NO_ANSWER,
    AlertKind.SUPPORT_BREAK,
    AlertKind.OTHER,
)
DEFAULT_ACK_DAYS = 5


def subject(alert_id: uuid.UUID) -> str:
    return f"household-alert:{alert_id}"


def kinds_for(opened: Opened) -> tuple[AlertKind, ...]:
    if opened.houses:
        return FROM_LESSOR
    if opened.follows:
        return FROM_ASSOCIATION
    return ()


def _link(slug: str) -> str:
    return f"/c/{slug}/menages/alertes"


async def raise_alert(opened: Opened, values: dict[str, Any]) -> uuid.UUID:
    """Raises `FieldError`; the addressee is the other partner of the household."""
    addressee = opened.partner
    if addressee is None:
        if opened.follows:
            raise FieldError("Le ménage n'a pas de bailleur à alerter.", "kind")
        raise PermissionError("alert")
    kind = values["kind"]
    if kind not in kinds_for(opened):
        raise FieldError("Choisissez un motif d'alerte dans la liste.", "kind")
    check_date(values["raised_on"], "raised_on")
    if not values["note"]:
        raise FieldError("Décrivez ce qui se passe, pour ce qui concerne le logement.", "note")
    sealer = await opened.sealer()
    alert_id = uuid.uuid4()
    recipients = await tenants.active_members_of(opened.ctx, addressee)
    async with transaction():
        await repository.insert_alert(
            opened.ctx,
            {
                "id": alert_id,
                "household": opened.id,
                "kind": kind,
                "raised_on": values["raised_on"],
                "sender": opened.ctx.organisation_id,
                "addressee": addressee,
                "sealed_note": sealer.seal(opened.id, "alert", values["note"]),
                "raised_by": opened.ctx.user_id,
            },
        )
        await touch(opened.ctx, opened.id)
        await notifications.notify(
            recipients,
            kind="household_alert",
            title=f"Alerte « {AlertKind(kind).label} » sur le ménage {opened.pseudonym}",
            link=_link(opened.ctx.slug),
            subject=subject(alert_id),
            consortium_id=opened.ctx.consortium_id,
        )
    return alert_id


async def _addressed(ctx: TenantContext, alert_id: uuid.UUID) -> dict[str, Any]:
    row = await repository.alert(ctx, alert_id)
    if row is None:
        raise LookupError(alert_id)
    if row["addressee"] != ctx.organisation_id or not _may_read(ctx, row):
        raise LookupError(alert_id)
    return row


PARTNER_ROLES = frozenset({Role.ASSOCIATION_STAFF, Role.LESSOR_STAFF})


def _may_read(ctx: TenantContext, row: dict[str, Any]) -> bool:
    """Only the staff of the two partners of the household, the pilot not included."""
    return ctx.role in PARTNER_ROLES and ctx.organisation_id in (row["sender"], row["addressee"])


async def acknowledge(ctx: TenantContext, alert_id: uuid.UUID) -> None:
    """The addressee has taken it into account: its reminders stop, and its notifications no
    longer wait for anyone of the organisation."""
    await _addressed(ctx, alert_id)
    async with transaction():
        if await repository.acknowledge_alert(ctx, alert_id, ctx.user_id, clock.now()):
            await notifications.settle(subject(alert_id))


async def resolve(ctx: TenantContext, alert_id: uuid.UUID, resolution: str) -> None:
    row = await _addressed(ctx, alert_id)
    if not resolution:
        raise FieldError("Dites comment l'alerte a été levée.", "resolution")
    sealer = await sealing.sealer(ctx)
    now = clock.now()
    async with transaction():
        await repository.acknowledge_alert(ctx, alert_id, ctx.user_id, now)
        sealed = sealer.seal(row["household"], "resolution", resolution)
        if await repository.resolve_alert(ctx, alert_id, ctx.user_id, now, sealed):
            await notifications.settle(subject(alert_id))
        await touch(ctx, row["household"])


def _opened_rows(
    sealer: sealing.Sealer, rows: list[dict[str, Any]], log: reads.Reads
) -> list[dict[str, Any]]:
    for row in rows:
        row["note"] = sealer.open(row["household"], "alert", row.pop("sealed_note"))
        row["resolution"] = sealer.open(
            row["household"], "resolution", row.pop("sealed_resolution")
        )
        row["kind_label"] = AlertKind(row["kind"]).label
        log.add(row["household"], row["pseudonym"], Read.ALERT, str(row["id"]))
    return rows


async def of_household(opened: Opened, log: reads.Reads) -> list[dict[str, Any]]:
    require(opened, Part.ALERTS)
    sealer = await opened.sealer()
    mine = opened.ctx.organisation_id
    rows = [
        r
        for r in await repository.alerts(opened.ctx, opened.id)
        if mine in (r["sender"], r["addressee"])
    ]
    return _opened_rows(sealer, rows, log)


async def inbox(ctx: TenantContext, log: reads.Reads) -> list[dict[str, Any]]:
    """Alerts the member's organisation sent or received, for the partners' staff only."""
    if ctx.role not in PARTNER_ROLES:
        raise PermissionError("alerts")
    sealer = await sealing.sealer(ctx)
    rows = await repository.inbox(ctx, ctx.organisation_id, limit=200)
    return _opened_rows(sealer, rows, log)


# Delay and reminders ---------------------------------------------------------------------------


async def ack_days(scope: TenantScope) -> int:
    row = await repository.settings(scope)
    return int(row["alert_ack_days"]) if row else DEFAULT_ACK_DAYS


async def save_ack_days(ctx: TenantContext, days: int) -> None:
    async with transaction():
        await repository.save_settings(ctx, {"alert_ack_days": days})


async def due_items(scope: TenantScope) -> list[DueItem]:
    """Unacknowledged alerts past the delay, and procedures whose suspension ends: the
    reminder scan's items. An alert's item falls due when the delay is over and is offered
    from then only (no reminder before the delay)."""
    consortium = await tenants.scope_and_consortium(scope.consortium_id)
    slug = consortium[1]["slug"] if consortium else ""
    days = await ack_days(scope)
    members: dict[uuid.UUID, list[uuid.UUID]] = {}

    async def of(organisation: uuid.UUID | None) -> list[uuid.UUID]:
        if organisation is None:
            return []
        if organisation not in members:
            members[organisation] = await tenants.active_members_of(scope, organisation)
        return members[organisation]

    items = []
    for row in await repository.unacknowledged_alerts(scope):
        due = row["raised_on"] + dt.timedelta(days=days)
        items.append(
            DueItem(
                subject=subject(row["id"]),
                title=f"Prise en compte de l'alerte sur le ménage {row['pseudonym']}",
                due_on=due,
                created_on=due,
                link=_link(slug),
                recipients=tuple(await of(row["addressee"])),
            )
        )
    for row in await repository.running_procedures(scope, clock.today()):
        recipients = [*await of(row["association"]), *await of(row["lessor"])]
        items.append(
            DueItem(
                subject=f"household-procedure:{row['id']}",
                title=f"Fin de la suspension de la procédure du ménage {row['pseudonym']}",
                due_on=row["suspended_until"],
                created_on=row["suspended_on"],
                link=_link(slug),
                recipients=tuple(dict.fromkeys(recipients)),
            )
        )
    return items
