"""Conventions: opening one (the visibility check; `web.on_convention` for the pages about one,
the signing's too), listing them, and what the other domains read and ask of them (the signing
domain marks one signed).

The rest lives beside it: `drafting.py` (a new convention from the default models),
`content.py` (the article variables and what blocks freezing), `views.py` (what the
convention's pages show), `editing.py` (the structured data: information, parties, budget lines,
indicators), `collaboration.py` (articles, comments, proposals), `annexes.py`, `versions.py`
(lifecycle moves, freezing and the PDF, avenants, renewals, comparisons, history). The
lifecycle's state table is in `lifecycle.py`; who may do what in `access.py`.

Every operation on one convention takes an `Opened` convention, which only `open_convention`
builds, after the visibility check: a route cannot reach a convention its member may not see.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portal.audit import service as audit
from portal.audit.enums import AuditTag
from portal.auth.service import CurrentUser
from portal.conventions import access, budget, lifecycle, repository
from portal.conventions.enums import ConventionKind, ConventionStatus, DisplayStatus
from portal.core import clock
from portal.core.actor import SYSTEM, Actor
from portal.core.db import transaction
from portal.core.forms import FieldError
from portal.core.tenancy import TenantContext, TenantScope
from portal.core.visibility import EVERYTHING, Reach

log = logging.getLogger("portal.conventions")
Row = dict[str, Any]


def subject(convention_id: uuid.UUID) -> str:
    return f"convention:{convention_id}"


@dataclass(frozen=True)
class Opened:
    """A convention its member may see, with what they may do on it."""

    ctx: TenantContext
    row: Row
    parties: frozenset[uuid.UUID]

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(str(self.row["id"]))

    @property
    def status(self) -> ConventionStatus:
        return ConventionStatus(self.row["status"])

    @property
    def editable(self) -> bool:
        return self.status in lifecycle.EDITABLE

    @property
    def may_edit(self) -> bool:
        return self.editable and access.may_edit(self.ctx.role)

    @property
    def may_comment(self) -> bool:
        return self.editable and access.may_comment(
            self.ctx.role, self.ctx.organisation_id, self.row["kind"], self.parties
        )

    @property
    def may_suggest(self) -> bool:
        return self.editable and access.may_suggest(
            self.ctx.role, self.ctx.organisation_id, self.row["kind"], self.parties
        )

    @property
    def base(self) -> str:
        return f"/c/{self.ctx.slug}/conventions/{self.id}"


async def reach_of(scope: TenantScope, role: str, organisation_id: uuid.UUID) -> Reach:
    """The conventions a member (of `role`, for `organisation_id`) sees: what every domain
    shows of a convention follows it (see `portal.core.visibility`)."""
    sight = access.party_sight(role, organisation_id)
    if sight.everything:
        return EVERYTHING
    return Reach(everything=False, conventions=await repository.reached(scope, sight))


async def reach(ctx: TenantContext) -> Reach:
    return await reach_of(ctx, ctx.role, ctx.organisation_id)


async def open_convention(ctx: TenantContext, convention_id: uuid.UUID) -> Opened | None:
    """The one visibility check: None (the caller answers 404) when it does not exist in this
    consortium or this member may not see it."""
    if not (await reach(ctx)).covers(convention_id):
        return None
    row = await repository.convention(ctx, convention_id)
    if row is None:
        return None
    parties = frozenset(p["organisation"] for p in await repository.parties(ctx, convention_id))
    return Opened(ctx, row, parties)


def require_edit(opened: Opened) -> None:
    if not access.may_edit(opened.ctx.role):
        raise PermissionError(opened.id)
    if not opened.editable:
        raise FieldError(
            "Cette convention n'est plus modifiable "
            f"({display_status(opened.row).label.lower()}) : "
            + (
                "rouvrez la relecture pour la modifier."
                if opened.status == ConventionStatus.READY
                else "créez un avenant pour la faire évoluer."
            ),
            "status",
        )


def display_status(row: Mapping[str, Any]) -> DisplayStatus:
    return lifecycle.display_status(row, clock.today())


async def record(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    summary: str,
    tag: AuditTag = AuditTag.CONVENTION_CHANGED,
    **details: Any,
) -> None:
    await audit.record_action(
        tag,
        actor,
        opened.ctx,
        subject=subject(opened.id),
        summary=summary,
        actor_name=user.full_name,
        **details,
    )


async def visible_conventions(ctx: TenantContext) -> list[Row]:
    return [
        {
            **row,
            "kind_label": ConventionKind(row["kind"]).label,
            "display": display_status(row),
            "ends_on": lifecycle.ends_on(row),
        }
        for row in await repository.conventions(ctx, await reach(ctx))
    ]


async def chain_overlaps(scope: TenantScope, row: Row) -> list[Mapping[str, Any]]:
    """The conventions of other periods of this one's chain that its dates overlap."""
    return lifecycle.overlapping(row, await repository.conventions(scope))


async def hold_frozen(scope: TenantScope, convention_id: uuid.UUID) -> None:
    """In the caller's transaction, holds the convention's row while it stays frozen for
    signature: reopening review (which updates that row, then looks for a request) waits, and
    sees the request once it is committed. `FieldError` when it is no longer frozen."""
    if not await repository.update_convention(
        scope,
        convention_id,
        {"status": ConventionStatus.READY},
        status_in=[ConventionStatus.READY],
    ):
        raise FieldError(
            "La relecture de cette convention vient d'être rouverte : elle n'est plus figée "
            "pour signature. Rechargez la page.",
            "request",
        )


# For the domains that follow a convention (signing, payments, documents) ----------------------


async def signed_conventions(scope: TenantScope) -> list[Row]:
    """The consortium's signed conventions (money follows signed ones only), newest first."""
    rows = [
        {**row, "kind_label": ConventionKind(row["kind"]).label, "ends_on": lifecycle.ends_on(row)}
        for row in await repository.conventions(scope)
        if row["status"] == ConventionStatus.SIGNED
    ]
    return sorted(rows, key=lambda r: r["reference"], reverse=True)


async def convention_of(scope: TenantScope, convention_id: uuid.UUID) -> Row | None:
    return await repository.convention(scope, convention_id)


async def parties_of(scope: TenantScope, convention_id: uuid.UUID) -> list[Row]:
    return await repository.parties(scope, convention_id)


async def budget_summary(scope: TenantScope, convention_id: uuid.UUID) -> budget.Summary | None:
    row = await repository.convention(scope, convention_id)
    if row is None:
        return None
    return budget.summarise(await repository.budget_lines(scope, convention_id), row)


async def versions_of(scope: TenantScope, convention_id: uuid.UUID) -> list[Row]:
    """Its versions, the latest first."""
    return await repository.versions(scope, convention_id)


async def version_of(scope: TenantScope, version_id: uuid.UUID) -> Row | None:
    return await repository.version_by_id(scope, version_id)


def may_edit(role: str) -> bool:
    """Whether `role` may change conventions (and so send one for signature)."""
    return access.may_edit(role)


async def mark_signed(
    scope: TenantScope, convention_id: uuid.UUID, version_id: uuid.UUID, at: dt.datetime
) -> None:
    """Called by the signature capability once every party signed the frozen version."""
    version = await repository.version_by_id(scope, version_id)
    if version is None or version["convention"] != convention_id or not version["frozen"]:
        raise LookupError(version_id)
    latest = await repository.versions(scope, convention_id)
    if latest[0]["id"] != version_id:
        raise FieldError("Seule la dernière version figée peut être signée.", "status")
    async with transaction():
        if not await repository.update_convention(
            scope,
            convention_id,
            {"status": ConventionStatus.SIGNED, "signed_version": version_id, "signed_at": at},
            status_in=[ConventionStatus.READY],
        ):
            raise FieldError(
                "Seule une convention prête à signer peut être enregistrée comme signée.", "status"
            )
        await audit.record(
            AuditTag.CONVENTION_SIGNED,
            SYSTEM,  # the last signature's seal, applied by a job
            consortium_id=scope.consortium_id,
            subject=subject(convention_id),
            summary=f"Convention signée (version {version['number']})",
            version=version["number"],
        )


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, clamped to the month's end (see `lifecycle.add_months`)."""
    return lifecycle.add_months(day, months)


def ends_on(convention: Mapping[str, Any]) -> dt.date | None:
    """The last day a convention covers, None before its start is known."""
    return lifecycle.ends_on(convention)
