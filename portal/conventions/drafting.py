"""Drafting a convention: a new one from the default models (reference, parties, articles,
indicators), and an article with its first revision."""

from __future__ import annotations

import uuid
from typing import Any

from portal.audit import service as audit
from portal.audit.enums import AuditTag
from portal.auth.service import CurrentUser
from portal.conventions import models, repository
from portal.conventions.enums import (
    ConventionKind,
    ConventionStatus,
    Origin,
    PartyRole,
    RevisionAction,
)
from portal.conventions.service import subject
from portal.core import clock
from portal.core.actor import Actor
from portal.core.db import transaction
from portal.core.forms import FieldError
from portal.core.tenancy import TenantContext, TenantScope
from portal.tenants import service as tenants
from portal.tenants.enums import OrganisationKind


async def _new_reference(scope: TenantScope, kind: ConventionKind) -> str:
    prefix = f"{'CP' if kind == ConventionKind.PARTNERSHIP else 'CE'}-{clock.today().year}-"
    used = await repository.references_like(scope, prefix)
    numbers = [int(r[len(prefix) :]) for r in used if r[len(prefix) :].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


async def _default_parties(ctx: TenantScope, kind: ConventionKind) -> list[dict[str, Any]]:
    """Every organisation of the consortium in the role its kinds suggest; the first bailleur
    (by name) carries the project. Signatories default to the member allowed to sign."""
    organisations = await tenants.organisations(ctx)
    signers: dict[uuid.UUID, str] = {}
    for m in await tenants.members(ctx):
        if m["may_sign"] and m["is_active"]:
            signers.setdefault(m["organisation_id"], m["full_name"])
    parties: list[dict[str, Any]] = []
    lead_taken = False
    for org in organisations:
        kinds = set(org["kinds"])
        if OrganisationKind.LESSOR in kinds:
            role = PartyRole.LESSOR if lead_taken else PartyRole.LEAD_LESSOR
            lead_taken = True
        elif OrganisationKind.ASSOCIATION in kinds:
            role = PartyRole.ASSOCIATION
        elif OrganisationKind.STATE_SERVICE in kinds and kind == ConventionKind.STATE:
            role = PartyRole.STATE
        else:
            continue
        if kind == ConventionKind.STATE and role == PartyRole.ASSOCIATION:
            continue  # the State convention binds the carrier and the State
        parties.append(
            {"organisation": org["id"], "role": role, "signatory_name": signers.get(org["id"], "")}
        )
    # Listed, and later signed, in the usual order: bailleurs, associations, then the State.
    order = list(PartyRole)
    parties.sort(key=lambda p: order.index(p["role"]))
    return [{**p, "position": position} for position, p in enumerate(parties)]


async def create(
    actor: Actor, ctx: TenantContext, user: CurrentUser, kind: str, title: str
) -> uuid.UUID:
    try:
        chosen = ConventionKind(kind)
    except ValueError as exc:
        raise FieldError("Choisissez le type de convention.", "kind") from exc
    if not title:
        raise FieldError("Donnez un titre à la convention.", "title")
    consortium = await tenants.scope_and_consortium(ctx.consortium_id)
    project = consortium[1]["name"] if consortium else ""
    async with transaction():
        convention_id = await repository.insert_convention(
            ctx,
            {
                "kind": chosen,
                "origin": Origin.INITIAL,
                "reference": await _new_reference(ctx, chosen),
                "title": title,
                "project_name": project,
                "status": ConventionStatus.DRAFT,
                "duration_months": 24,
                "created_by": user.id,
            },
        )
        for party in await _default_parties(ctx, chosen):
            await repository.insert_party(ctx, {"convention": convention_id, **party})
        for position, (key, article_title, body) in enumerate(models.articles(chosen), 1):
            await insert_article(
                ctx,
                user,
                convention_id,
                position,
                article_title,
                body,
                key=key,
                note="modèle par défaut",
            )
        for indicator_kind, label, unit in models.INDICATORS:
            await repository.insert_indicator(
                ctx,
                {"convention": convention_id, "kind": indicator_kind, "label": label, "unit": unit},
            )
        await audit.record_action(
            AuditTag.CONVENTION_CREATED,
            actor,
            ctx,
            subject=subject(convention_id),
            summary=f"Convention créée à partir du modèle ({chosen.label.lower()})",
            actor_name=user.full_name,
        )
    return convention_id


async def insert_article(
    scope: TenantScope,
    user: CurrentUser,
    convention_id: uuid.UUID,
    position: int,
    title: str,
    body: str,
    *,
    key: str = "",
    note: str = "",
    source: uuid.UUID | None = None,
) -> uuid.UUID:
    article_id = await repository.insert_article(
        scope,
        {
            "convention": convention_id,
            "key": key,
            "source": source,
            "position": position,
            "title": title,
            "body": body,
            "updated_by": user.id,
            "updated_by_name": user.full_name,
            "updated_at": clock.now(),
        },
    )
    await repository.insert_revision(
        scope,
        {
            "convention": convention_id,
            "article": article_id,
            "revision": 1,
            "title": title,
            "body": body,
            "action": RevisionAction.CREATED,
            "note": note,
            "author_id": user.id,
            "author_name": user.full_name,
        },
    )
    return article_id
