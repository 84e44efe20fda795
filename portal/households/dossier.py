"""What one tab of a household's file shows the member who opened it, read through the
visibility rule, every read it makes written to the read log in one statement."""

from __future__ import annotations

from typing import Any

from portal.households import alerts, consents, diagnostic, follow_up, reads, register
from portal.households.access import Opened
from portal.households.enums import Part, Read, Step
from portal.households.pathway import allowed
from portal.tenants import service as tenants


async def tab(opened: Opened, name: str) -> dict[str, Any]:
    ctx = opened.ctx
    log = reads.Reads(ctx)
    data: dict[str, Any] = {}
    if name == "parcours":
        data["history"] = await follow_up.history(opened)
        data["notes"] = await follow_up.notes(opened, log)
        data["moves"] = sorted(allowed(Step(opened.row["step"])), key=list(Step).index)
    elif name == "logement":
        data["occupations"] = await follow_up.occupations(opened)
        data["procedures"] = await follow_up.procedures(opened)
        if opened.follows:
            data["lessors"] = [(o["id"], o["name"]) for o in await register.lessors(ctx)]
    elif name == "diagnostic":
        if opened.sees(Part.DIAGNOSTIC):
            data["sections"] = await diagnostic.sections(opened, log)
        data["shared"] = await consents.shared_with_me(opened, log)
    elif name == "consentements":
        data["consents"] = await consents.listing(opened)
        data["transmissions"] = await consents.transmissions(opened)
        data["grid"] = await diagnostic.grid(ctx)
        data["organisations"] = await tenants.organisations(ctx)
    elif name == "alertes":
        data["alerts"] = await alerts.of_household(opened, log)
        data["kinds"] = alerts.kinds_for(opened)
    elif name == "journal":
        data["log"] = await reads.log_of(ctx, opened.id)
        log.add(opened.id, opened.pseudonym, Read.READ_LOG)
    data["identity"] = await register.identity(opened, log)
    await log.flush()
    members = await tenants.members(ctx)
    data["names"] = {m["user_id"]: m["full_name"] for m in members}
    data["colleagues"] = [
        (m["user_id"], m["full_name"])
        for m in members
        if m["is_active"] and m["organisation_id"] == ctx.organisation_id
    ]
    return data
