"""The follow-up of a household, by the association following it and, for the home, by the
bailleur: pathway moves, occupancy statuses, notes, suspended court procedures, GLA. Each of
these is a contact (`portal.households.contact`)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from portal.core.db import transaction
from portal.core.forms import FieldError, check_date
from portal.households import pathway, reads, register, repository
from portal.households.access import Opened, require
from portal.households.contact import touch
from portal.households.enums import ExitReason, Occupancy, Part, Read, Step
from portal.tenants import service as tenants


async def move(opened: Opened, values: dict[str, Any]) -> None:
    """A move along the pathway (see `portal.households.pathway`). Raises `FieldError`."""
    if not opened.follows:
        raise PermissionError("move")
    current, target = Step(opened.row["step"]), Step(values["step"])
    try:
        pathway.check(current, target)
    except pathway.MoveRefused as exc:
        raise FieldError(str(exc), "step") from exc
    on: dt.date = values["on"]
    check_date(on, "on")
    if on < opened.row["step_on"]:
        raise FieldError(
            "Cette date précède celle de l'étape actuelle : indiquez la date du changement.", "on"
        )
    if target == Step.ORIENTATION and not values.get("source"):
        raise FieldError("Indiquez qui oriente le ménage.", "source")
    if target == Step.EXIT and not values.get("exit_reason"):
        raise FieldError("Choisissez le motif de sortie.", "exit_reason")
    if not values.get("reason"):
        raise FieldError("Dites pourquoi, en une phrase.", "reason")
    episode = opened.row["episode"]
    household: dict[str, Any] = {"step": target, "step_on": on}
    if pathway.opens_episode(current, target):
        episode += 1
        household |= {"episode": episode, "oriented_on": on, "exit_reason": None}
    if target == Step.EXIT:
        household["exit_reason"] = ExitReason(values["exit_reason"])
    sealer = await opened.sealer()
    async with transaction():
        await repository.insert_transition(
            opened.ctx,
            {
                "household": opened.id,
                "episode": episode,
                "from_step": current,
                "to_step": target,
                "on": on,
                "source": values.get("source") if target == Step.ORIENTATION else None,
                "exit_reason": values.get("exit_reason") if target == Step.EXIT else None,
                "sealed_reason": sealer.seal(opened.id, "reason", values["reason"]),
                "by": opened.ctx.user_id,
            },
        )
        await repository.update_household(opened.ctx, opened.id, household)
        await touch(opened.ctx, opened.id)


async def history(opened: Opened) -> list[dict[str, Any]]:
    """The pathway, every episode; reasons only for those who see the follow-up."""
    rows = await repository.transitions(opened.ctx, opened.id)
    if opened.sees(Part.FOLLOW_UP):
        sealer = await opened.sealer()
        for row in rows:
            row["reason"] = sealer.open(opened.id, "reason", row["sealed_reason"])
    for row in rows:
        del row["sealed_reason"]
    return rows


async def set_gla(opened: Opened, since: dt.date | None) -> None:
    """Gestion locative adaptée starts (or stops, None) beside the pathway."""
    if not (opened.follows or opened.houses):
        raise PermissionError("gla")
    if since is not None:
        check_date(since, "gla_since")
    async with transaction():
        await repository.update_household(opened.ctx, opened.id, {"gla_since": since})


# Occupancy -------------------------------------------------------------------------------------


async def occupy(opened: Opened, values: dict[str, Any]) -> None:
    """A new occupancy status, forwards or back by agreement, with its decision. A new
    sub-letting starts with no renewal used: a second tenancy after a failed first one is
    recorded like any other, without penalty."""
    if not (opened.follows or opened.houses):
        raise PermissionError("occupy")
    status = Occupancy(values["status"])
    for name in ("since", "decided_on"):
        check_date(values[name], name)
    if status == Occupancy.SUBLETTING:
        _check_end(values)
    else:
        values["ends_on"] = None
    await _record(opened, status, values, renewal=0)


def _check_end(values: dict[str, Any]) -> None:
    if values.get("ends_on") is None:
        raise FieldError("Une sous-location a une date de fin : indiquez-la.", "ends_on")
    check_date(values["ends_on"], "ends_on")
    if values["ends_on"] <= values["since"]:
        raise FieldError("La fin de la sous-location suit son début.", "ends_on")


async def renew_subletting(opened: Opened, values: dict[str, Any]) -> None:
    """Renews the current sub-letting, within the number of renewals the convention sets."""
    if not (opened.follows or opened.houses):
        raise PermissionError("renew")
    history_ = await repository.occupations(opened.ctx, opened.id)
    current = history_[-1] if history_ else None
    if current is None or current["status"] != Occupancy.SUBLETTING:
        raise FieldError("Le ménage n'est pas en sous-location : rien à renouveler.", "ends_on")
    allowed = opened.row["subletting_renewals"]
    if current["renewal"] >= allowed:
        times = (
            "aucun renouvellement"
            if allowed == 0
            else f"{allowed} renouvellement" + ("s" if allowed > 1 else "")
        )
        raise FieldError(
            f"La convention permet {times} de la sous-location, déjà atteint : proposez un "
            "bail glissé ou une autre solution.",
            "ends_on",
        )
    values = {**values, "since": current["ends_on"]}
    check_date(values["decided_on"], "decided_on")
    _check_end(values)
    await _record(opened, Occupancy.SUBLETTING, values, renewal=current["renewal"] + 1)


async def _record(opened: Opened, status: Occupancy, values: dict[str, Any], renewal: int) -> None:
    if not values.get("decided_by"):
        raise FieldError("Indiquez l'instance qui a décidé (commission, comité…).", "decided_by")
    async with transaction():
        await repository.insert_occupation(
            opened.ctx,
            {
                "household": opened.id,
                "status": status,
                "since": values["since"],
                "decided_on": values["decided_on"],
                "decided_by": values["decided_by"],
                "decision_reference": values.get("decision_reference", ""),
                "ends_on": values.get("ends_on"),
                "renewal": renewal,
                "by": opened.ctx.user_id,
            },
        )
        await repository.update_household(opened.ctx, opened.id, {"occupancy": status})
        await touch(opened.ctx, opened.id)


async def occupations(opened: Opened) -> list[dict[str, Any]]:
    require(opened, Part.OCCUPANCY)
    return await repository.occupations(opened.ctx, opened.id)


# Notes -----------------------------------------------------------------------------------------


async def add_note(opened: Opened, body: str, personal: bool) -> None:
    if not opened.follows:
        raise PermissionError("note")
    if not body:
        raise FieldError("Écrivez la note.", "note")
    sealer = await opened.sealer()
    async with transaction():
        await repository.insert_note(
            opened.ctx,
            {
                "household": opened.id,
                "author": opened.ctx.user_id,
                "personal": personal,
                "sealed": sealer.seal(opened.id, "note", body),
            },
        )
        await touch(opened.ctx, opened.id)


async def notes(opened: Opened, log: reads.Reads) -> list[dict[str, Any]]:
    """Shared notes, and the reader's own personal ones; each shown note is a read."""
    if not opened.sees(Part.FOLLOW_UP):
        return []
    sealer = await opened.sealer()
    rows = await repository.notes(opened.ctx, opened.id, opened.ctx.user_id)
    for row in rows:
        row["body"] = sealer.open(opened.id, "note", row.pop("sealed"))
        log.add(opened.id, opened.pseudonym, Read.NOTE, str(row["id"]))
    return rows


# Court procedures ------------------------------------------------------------------------------


async def suspend_procedure(opened: Opened, values: dict[str, Any]) -> None:
    """A court procedure suspended while support is tried: reminders go before its end."""
    if not (opened.follows or opened.houses):
        raise PermissionError("procedure")
    check_date(values["suspended_on"], "suspended_on")
    check_date(values["suspended_until"], "suspended_until")
    if values["suspended_until"] <= values["suspended_on"]:
        raise FieldError("La fin de la suspension suit son début.", "suspended_until")
    async with transaction():
        await repository.insert_procedure(
            opened.ctx,
            {
                "household": opened.id,
                "suspended_on": values["suspended_on"],
                "suspended_until": values["suspended_until"],
                "by": opened.ctx.user_id,
            },
        )
        await touch(opened.ctx, opened.id)


async def procedures(opened: Opened) -> list[dict[str, Any]]:
    if not (opened.follows or opened.houses):
        return []
    return await repository.procedures(opened.ctx, opened.id)


async def set_referent(opened: Opened, user_id: uuid.UUID | None) -> None:
    """The association names its référent social; the bailleur, its référent GLA. Each from its
    own active members."""
    if not (opened.follows or opened.houses):
        raise PermissionError("referent")
    if user_id is not None:
        members = {
            m["user_id"]
            for m in await tenants.members(opened.ctx)
            if m["is_active"] and m["organisation_id"] == opened.ctx.organisation_id
        }
        if user_id not in members:
            raise FieldError("Choisissez une personne de votre organisation.", "referent")
    column = "referent" if opened.follows else "lessor_referent"
    async with transaction():
        await repository.update_household(opened.ctx, opened.id, {column: user_id})


async def set_lessor(opened: Opened, lessor: uuid.UUID | None) -> None:
    """Once housed, the bailleur of the home: its staff then see what concerns the housing.
    A new bailleur has its référent GLA to name; what was sent to the former one under a
    consent naming it stays its own."""
    if not opened.follows:
        raise PermissionError("lessor")
    if lessor is not None and lessor not in {o["id"] for o in await register.lessors(opened.ctx)}:
        raise FieldError("Choisissez un bailleur du consortium.", "lessor")
    if lessor == opened.row["lessor"]:
        return
    async with transaction():
        await repository.update_household(
            opened.ctx, opened.id, {"lessor": lessor, "lessor_referent": None}
        )
        await touch(opened.ctx, opened.id)


async def set_legal_hold(opened: Opened, hold: bool, note: str) -> None:
    """A court case suspends the erasure of the household's data while it lasts."""
    if not opened.follows:
        raise PermissionError("hold")
    if hold and not note:
        raise FieldError("Indiquez l'affaire qui justifie la conservation.", "legal_hold_note")
    async with transaction():
        await repository.update_household(
            opened.ctx, opened.id, {"legal_hold": hold, "legal_hold_note": note if hold else ""}
        )
