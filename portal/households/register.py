"""The register: orienting a household (it enters the register), its identity, the caseload
of an association or a bailleur, and the pilot's pseudonymous register with its counts."""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from portal.conventions import service as conventions
from portal.core import clock, db
from portal.core.db import transaction
from portal.core.forms import FieldError, check_date
from portal.core.permissions import Role
from portal.core.tenancy import TenantContext, TenantScope
from portal.households import reads, repository, sealing
from portal.households.access import Opened
from portal.households.enums import Occupancy, Part, Read, Step
from portal.households.pathway import NEXT_ACTION
from portal.households.visibility import AGGREGATE_ROLES, parts_for, relation, small_cell
from portal.tenants import service as tenants

PAGE_SIZE = 50
NAME_FIELDS = ("last_name", "first_name", "adults", "children")
CONTACT_FIELDS = ("phone", "email", "address", "home_type")


async def next_pseudonym(scope: TenantScope, year: int) -> str:
    prefix = f"M-{year}-"
    return f"{prefix}{await repository.pseudonyms_taken(scope, prefix) + 1:04d}"


async def orient(ctx: TenantContext, values: dict[str, Any]) -> uuid.UUID:
    """A household enters the register, oriented towards the member's association, under one
    of the conventions it is party to. Raises `FieldError`."""
    if ctx.role != Role.ASSOCIATION_STAFF:
        raise PermissionError("orient")
    check_date(values["oriented_on"], "oriented_on")
    visible = {c["id"] for c in await conventions.visible_conventions(ctx)}
    if values["convention"] not in visible:
        raise FieldError("Choisissez une convention de votre association.", "convention")
    lessor = values.get("lessor")
    if lessor is not None and lessor not in {o["id"] for o in await lessors(ctx)}:
        raise FieldError("Choisissez un bailleur du consortium.", "lessor")
    sealer = await sealing.sealer(ctx)
    for attempt in range(3):  # two orientations at once may take the same number
        household_id = uuid.uuid4()
        try:
            async with transaction():
                pseudonym = await next_pseudonym(ctx, values["oriented_on"].year)
                await repository.insert_household(
                    ctx,
                    {
                        "id": household_id,
                        "pseudonym": pseudonym,
                        "convention": values["convention"],
                        "association": ctx.organisation_id,
                        "referent": ctx.user_id,
                        "lessor": lessor,
                        "step": Step.ORIENTATION,
                        "step_on": values["oriented_on"],
                        "oriented_on": values["oriented_on"],
                        "occupancy": values.get("occupancy"),
                        "last_contact_at": clock.now(),
                        "created_by": ctx.user_id,
                    },
                )
                await _save_identity(ctx, sealer, household_id, values, new=True)
                await repository.insert_transition(
                    ctx,
                    {
                        "household": household_id,
                        "episode": 1,
                        "to_step": Step.ORIENTATION,
                        "on": values["oriented_on"],
                        "source": values["source"],
                        "sealed_reason": sealer.seal(household_id, "reason", values["motive"]),
                        "by": ctx.user_id,
                    },
                )
            return household_id
        except Exception as exc:
            if attempt == 2 or not db.unique_violation(exc):
                raise
    raise AssertionError("unreachable")


async def lessors(scope: TenantScope) -> list[dict[str, Any]]:
    """The consortium's organisations that are landlords (an association may be one too)."""
    return [o for o in await tenants.organisations(scope) if "lessor" in o["kinds"]]


def _identity(values: dict[str, Any]) -> dict[str, Any]:
    return {k: values.get(k) for k in (*NAME_FIELDS, *CONTACT_FIELDS)}


async def _save_identity(
    scope: TenantScope,
    sealer: sealing.Sealer,
    household_id: uuid.UUID,
    values: dict[str, Any],
    *,
    new: bool,
) -> None:
    sealed = sealer.seal_json(household_id, "identity", _identity(values))
    name_hash = sealer.name_hash(values["last_name"])
    if new:
        await repository.insert_identity(scope, household_id, sealed, name_hash)
    else:
        await repository.update_identity(scope, household_id, sealed, name_hash, clock.now())


async def update_identity(opened: Opened, values: dict[str, Any]) -> None:
    """The association following the household corrects its identity or contact details."""
    if not opened.follows:
        raise PermissionError("identity")
    sealer = await opened.sealer()
    async with transaction():
        await _save_identity(opened.ctx, sealer, opened.id, values, new=False)


async def identity(opened: Opened, log: reads.Reads) -> dict[str, Any] | None:
    """The identity as the member may see it (name only for the pilot who is the landlord);
    None when it sees none. The read goes into `log`."""
    if not opened.sees(Part.NAME):
        return None
    sealed = (await repository.identities(opened.ctx, [opened.id])).get(opened.id)
    if sealed is None:
        return None
    sealer = await opened.sealer()
    log.add(opened.id, opened.pseudonym, Read.IDENTITY)
    return _shown(sealer.open_json(opened.id, "identity", sealed), opened.parts)


def _shown(identity: dict[str, Any], parts: frozenset[Part]) -> dict[str, Any]:
    fields = NAME_FIELDS + (CONTACT_FIELDS if Part.CONTACT in parts else ())
    return {k: identity.get(k) for k in fields}


# The caseload and the register -----------------------------------------------------------------


@dataclass
class Listing:
    rows: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    referents: dict[uuid.UUID, str] = field(default_factory=dict)


def _reach(ctx: TenantContext) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """Whose households a member lists: its association's, its organisation's homes, or (the
    pilot) all of them, pseudonymous."""
    if ctx.role == Role.ASSOCIATION_STAFF:
        return ctx.organisation_id, None
    if ctx.role == Role.LESSOR_STAFF:
        return None, ctx.organisation_id
    if ctx.role == Role.PILOT:
        return None, None
    raise PermissionError("listing")


async def listing(ctx: TenantContext, filters: dict[str, Any], page: int) -> Listing:
    """One page of the member's households, with names where the rule lets it see them (each
    shown name is a read, logged in the same statement as the others)."""
    association, lessor = _reach(ctx)
    filters = dict(filters)
    if ctx.role == Role.LESSOR_STAFF and filters.get("referent"):
        filters["lessor_referent"] = filters.pop("referent")  # its own référents GLA
    sealer = await sealing.sealer(ctx)
    if filters.get("name"):
        filters["ids"] = await repository.ids_by_name_hash(ctx, sealer.name_hash(filters["name"]))
    total = await repository.listing_count(
        ctx, association=association, lessor=lessor, filters=filters
    )
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = await repository.listing(
        ctx,
        association=association,
        lessor=lessor,
        filters=filters,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    named = []
    for row in rows:
        row["relation"] = relation(ctx.role, ctx.organisation_id, ctx.may_sign, row)
        row["next_action"] = NEXT_ACTION[Step(row["step"])]
        row["identity"] = None
        row["referent_shown"] = (
            row["lessor_referent"] if ctx.role == Role.LESSOR_STAFF else row["referent"]
        )
        if Part.NAME in parts_for(row["relation"]):
            named.append(row)
    sealed = await repository.identities(ctx, [r["id"] for r in named])
    log = reads.Reads(ctx)
    for row in named:
        if row["id"] in sealed:
            opened = sealer.open_json(row["id"], "identity", sealed[row["id"]])
            row["identity"] = _shown(opened, parts_for(row["relation"]))
            log.add(row["id"], row["pseudonym"], Read.IDENTITY)
    await log.flush()
    return Listing(rows, total, page, pages, await referent_names(ctx))


async def referent_names(scope: TenantScope) -> dict[uuid.UUID, str]:
    return {m["user_id"]: m["full_name"] for m in await tenants.members(scope)}


@dataclass
class Counts:
    by_step: list[tuple[str, str]]  # (label, shown count)
    by_occupancy: list[tuple[str, str]]
    by_convention: list[tuple[str, str]]
    total: str
    erased: list[dict[str, Any]]


async def counts(ctx: TenantContext) -> Counts:
    """Households per step, occupancy and convention. For those who see counts only, a cell
    under 5 households reads « < 5 »."""
    hide = ctx.role in AGGREGATE_ROLES
    shown = small_cell if hide else str
    steps = {r["value"]: r["households"] for r in await repository.counts_by(ctx, "step")}
    occupancy = {r["value"]: r["households"] for r in await repository.counts_by(ctx, "occupancy")}
    per_convention = await repository.counts_by(ctx, "convention.reference")
    return Counts(
        by_step=[(s.label, shown(steps.get(s, 0))) for s in Step],
        by_occupancy=[(o.label, shown(occupancy.get(o, 0))) for o in Occupancy]
        + [("Non renseigné", shown(occupancy.get(None, 0)))],
        by_convention=[(r["value"], shown(r["households"])) for r in per_convention],
        total=shown(sum(steps.values())),
        erased=await repository.erased_counts(ctx) if not hide else [],
    )


def sees_register(ctx: TenantContext) -> bool:
    return ctx.role == Role.PILOT or ctx.role in AGGREGATE_ROLES
