"""Editing a convention's structured data: its information, parties, budget lines and
indicators, each change recorded in the audit log."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from portal.auth.service import CurrentUser
from portal.conventions import budget, lifecycle, repository, snapshot
from portal.conventions.enums import Origin
from portal.conventions.service import Opened, chain_overlaps, record, require_edit
from portal.core import clock
from portal.core.actor import Actor
from portal.core.db import transaction
from portal.core.forms import FieldError, check_date
from portal.core.templating import euros
from portal.tenants import service as tenants


async def update_info(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    values: dict[str, Any],
    revision: int,
) -> None:
    require_edit(opened)
    check_date(values.get("starts_on"), "starts_on")
    lifecycle.check_duration(
        values["duration_months"],
        opened.row["months_before"],
        renewal=opened.row["origin"] == Origin.RENEWAL,
    )
    changed = {k: v for k, v in values.items() if opened.row.get(k) != v}
    if not changed:
        return
    if changed.keys() & {"starts_on", "duration_months"}:
        overlaps = await chain_overlaps(opened.ctx, {**opened.row, **values})
        if overlaps:
            raise FieldError(
                lifecycle.overlap_message({**opened.row, **values}, overlaps[0]), "starts_on"
            )
    async with transaction():
        if not await repository.update_convention(
            opened.ctx,
            opened.id,
            {**changed, "updated_at": clock.now()},
            revision=revision,
            status_in=list(lifecycle.EDITABLE),
        ):
            raise FieldError(
                "Ces informations ont été modifiées par quelqu'un d'autre pendant que vous les "
                "éditiez : rechargez la page pour voir leur version, puis refaites vos "
                "changements.",
                "title",
            )
        labels = snapshot.FIELD_LABELS
        await record(
            actor,
            opened,
            user,
            "Informations modifiées : " + ", ".join(labels.get(k, k).lower() for k in changed),
            before={k: _jsonable(opened.row.get(k)) for k in changed},
            after={k: _jsonable(v) for k, v in changed.items()},
        )


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


async def add_party(
    actor: Actor, opened: Opened, user: CurrentUser, values: dict[str, Any]
) -> None:
    require_edit(opened)
    organisation = await tenants.organisation_in(opened.ctx, values["organisation"])
    if organisation is None:
        raise FieldError("Choisissez une organisation du consortium.", "organisation")
    if values["organisation"] in opened.parties:
        raise FieldError(
            f"{organisation['name']} est déjà partie à cette convention.", "organisation"
        )
    async with transaction():
        await repository.insert_party(
            opened.ctx, {"convention": opened.id, **values, "position": len(opened.parties)}
        )
        await record(
            actor, opened, user, f"Partie ajoutée : {organisation['name']}", party=values["role"]
        )


async def update_party(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    party_id: uuid.UUID,
    values: dict[str, Any],
) -> None:
    require_edit(opened)
    before = next(
        (p for p in await repository.parties(opened.ctx, opened.id) if p["id"] == party_id), None
    )
    if before is None:
        raise LookupError(party_id)
    async with transaction():
        await repository.update_party(opened.ctx, opened.id, party_id, values)
        changed = {k: v for k, v in values.items() if before.get(k) != v}
        if changed:
            await record(
                actor,
                opened,
                user,
                f"Partie modifiée : {before['organisation_name']}",
                before={k: before.get(k) for k in changed},
                after=changed,
            )


async def remove_party(
    actor: Actor, opened: Opened, user: CurrentUser, party_id: uuid.UUID
) -> None:
    require_edit(opened)
    before = next(
        (p for p in await repository.parties(opened.ctx, opened.id) if p["id"] == party_id), None
    )
    if before is None:
        raise LookupError(party_id)
    async with transaction():
        await repository.delete_party(opened.ctx, opened.id, party_id)
        await record(actor, opened, user, f"Partie retirée : {before['organisation_name']}")


async def add_budget_line(
    actor: Actor, opened: Opened, user: CurrentUser, values: dict[str, Any]
) -> None:
    require_edit(opened)
    async with transaction():
        await repository.insert_budget_line(opened.ctx, {"convention": opened.id, **values})
        side = "Dépense" if values["side"] == budget.EXPENSE else "Ressource"
        await record(
            actor,
            opened,
            user,
            f"{side} ajoutée au budget : {values['label']} ({euros(values['amount_cents'])})",
        )


async def remove_budget_line(
    actor: Actor, opened: Opened, user: CurrentUser, line_id: uuid.UUID
) -> None:
    require_edit(opened)
    async with transaction():
        removed = await repository.delete_budget_line(opened.ctx, opened.id, line_id)
        if removed is None:
            raise LookupError(line_id)
        await record(
            actor,
            opened,
            user,
            f"Ligne retirée du budget : {removed['label']} ({euros(removed['amount_cents'])})",
        )


async def add_indicator(
    actor: Actor, opened: Opened, user: CurrentUser, values: dict[str, Any]
) -> None:
    require_edit(opened)
    async with transaction():
        await repository.insert_indicator(opened.ctx, {"convention": opened.id, **values})
        await record(actor, opened, user, f"Indicateur ajouté : {values['label']}")


async def remove_indicator(
    actor: Actor, opened: Opened, user: CurrentUser, indicator_id: uuid.UUID
) -> None:
    require_edit(opened)
    async with transaction():
        removed = await repository.delete_indicator(opened.ctx, opened.id, indicator_id)
        if removed is None:
            raise LookupError(indicator_id)
        await record(actor, opened, user, f"Indicateur retiré : {removed['label']}")
