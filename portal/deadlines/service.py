"""Deadlines of a consortium: created by the pilot, done by the responsible organisation."""

from __future__ import annotations

import uuid
from typing import Any

from portal.core import clock
from portal.core.db import transaction
from portal.core.forms import FieldError, check_date
from portal.core.permissions import Role
from portal.core.tenancy import TenantContext, TenantScope
from portal.deadlines import repository
from portal.notifications import service as notifications
from portal.reminders.schedule import DueItem
from portal.tenants import service as tenants


def subject(deadline_id: uuid.UUID) -> str:
    return f"deadline:{deadline_id}"


async def create(ctx: TenantContext, values: dict[str, Any]) -> uuid.UUID:
    check_date(values["due_on"], "due_on")
    if values["organisation"] is not None and not await tenants.organisation_in(
        ctx, values["organisation"]
    ):
        raise FieldError("Choisissez une organisation du consortium.", "organisation")
    return await repository.insert(ctx, values, ctx.user_id)


async def listing(scope: TenantScope) -> list[dict[str, Any]]:
    return await repository.all_of(scope)


async def complete(ctx: TenantContext, deadline_id: uuid.UUID) -> None:
    """The pilot, or a member of the responsible organisation, marks it done; reminders stop
    and e-mails not yet sent about it are withdrawn."""
    row = await repository.get(ctx, deadline_id)
    if row is None:
        raise LookupError(deadline_id)
    if ctx.role != Role.PILOT and row["organisation"] != ctx.organisation_id:
        raise PermissionError(deadline_id)
    async with transaction():
        if await repository.mark_done(ctx, deadline_id, ctx.user_id, clock.now()):
            await notifications.withdraw(subject(deadline_id))


async def due_items(scope: TenantScope) -> list[DueItem]:
    """Open deadlines as reminder items (the reminder scan's source)."""
    consortium = await tenants.scope_and_consortium(scope.consortium_id)
    slug = consortium[1]["slug"] if consortium else ""
    items = []
    members: dict[uuid.UUID, list[uuid.UUID]] = {}
    for row in await repository.open_ones(scope):
        organisation = row["organisation"]
        if organisation is not None and organisation not in members:
            members[organisation] = await tenants.active_members_of(scope, organisation)
        items.append(
            DueItem(
                subject=subject(row["id"]),
                title=row["title"],
                due_on=row["due_on"],
                created_on=row["created_at"].date(),
                link=f"/c/{slug}/echeances",
                recipients=tuple(members.get(organisation, [])),
            )
        )
    return items
