"""Every query on consortia, organisations, participations, memberships and invitations.

Tenant-owned rows are read and written only through functions taking a `TenantScope`: they
always filter by its consortium and stamp it on insert (`portal.core.scoped`). The others say
why with `@unscoped`: the consortia and organisations themselves are nobody's tenant rows, and a
few lookups come before a scope exists (resolving a membership, following an invitation's
secret token).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from portal.core import scoped
from portal.core.prepared import prepared
from portal.core.scoped import unscoped
from portal.core.tenancy import TenantScope
from portal.tenants.tables import (
    Consortium,
    Invitation,
    Membership,
    Organisation,
    Participation,
)

Row = dict[str, Any]


# Consortia (the tenants themselves) -------------------------------------------------------


_BY_SLUG = prepared(lambda p: Consortium.select().where(Consortium.slug == p.slug).first())


@unscoped("the consortia are the tenants themselves")
async def consortium_by_slug(slug: str) -> Row | None:
    row: Row | None = await _BY_SLUG(slug=slug)  # on every page of a space: built once
    return row


@unscoped("the consortia are the tenants themselves")
async def consortium_by_id(consortium_id: uuid.UUID) -> Row | None:
    row: Row | None = await Consortium.select().where(Consortium.id == consortium_id).first()
    return row


# The settings a pilot edits (see `service.SETTINGS`).
_SETTINGS = (Consortium.self_review_allowed, Consortium.pilot_second_factor_required)


async def consortium_settings(scope: TenantScope) -> Row:
    row: Row | None = (
        await Consortium.select(*_SETTINGS).where(Consortium.id == scope.consortium_id).first()
    )
    return row or {}


async def update_consortium_settings(scope: TenantScope, values: dict[str, Any]) -> None:
    await Consortium.update({getattr(Consortium, k): v for k, v in values.items()}).where(
        Consortium.id == scope.consortium_id
    )


@unscoped("the consortia are the tenants themselves")
async def all_consortia() -> list[Row]:
    rows: list[Row] = await Consortium.select().order_by(Consortium.name)
    return rows


@unscoped("the consortia are the tenants themselves")
async def insert_consortium(
    name: str, slug: str, programme: str, departements: list[str], status: str
) -> uuid.UUID:
    consortium = Consortium(
        name=name, slug=slug, programme=programme, departements=departements, status=status
    )
    await consortium.save()
    return consortium.id


# Before a scope exists: the membership that grants it -------------------------------------


# The membership check and the switcher run on every page: built once (`portal.core.prepared`).
_MEMBERSHIP = (
    Membership.id,
    Membership.role,
    Membership.may_sign,
    Membership.organisation,
    Membership.consortium.id,
    Membership.consortium.slug,
    Membership.consortium.name,
    Membership.consortium.pilot_second_factor_required,
)
_ACTIVE_MEMBERSHIP = prepared(
    lambda p: (
        Membership.select(*_MEMBERSHIP)
        .where(
            (Membership.consortium.slug == p.slug)
            & (Membership.user == p.user_id)
            & (Membership.is_active == True)  # noqa: E712 - Piccolo expression
        )
        .first()
    )
)


@unscoped("the membership that grants the scope, found before it exists")
async def active_membership(slug: str, user_id: uuid.UUID) -> Row | None:
    row: Row | None = await _ACTIVE_MEMBERSHIP(slug=slug, user_id=user_id)
    return row


_SWITCHER = (
    Membership.consortium.slug.as_alias("slug"),
    Membership.consortium.name.as_alias("name"),
    Membership.role,
)
_CONSORTIA_OF = prepared(
    lambda p: (
        Membership.select(*_SWITCHER)
        .where((Membership.user == p.user_id) & (Membership.is_active == True))  # noqa: E712
        .order_by(Membership.consortium.name)
    )
)


@unscoped("the spaces a person belongs to, in every consortium (the switcher)")
async def consortia_of(user_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = await _CONSORTIA_OF(user_id=user_id)
    return rows


# Organisations (shared legal entities) and their participation ----------------------------


@unscoped("organisations are legal entities shared by the consortia")
async def organisation_by_siret(siret: str) -> Row | None:
    row: Row | None = await Organisation.select().where(Organisation.siret == siret).first()
    return row


@unscoped("organisations are legal entities shared by the consortia")
async def insert_organisation(name: str, siret: str, kinds: list[str], city: str) -> uuid.UUID:
    organisation = Organisation(name=name, siret=siret, kinds=kinds, city=city)
    await organisation.save()
    return organisation.id


_ORGANISATIONS = prepared(
    lambda p: scoped.select(
        p.scope,
        Participation,
        Participation.organisation.id.as_alias("id"),
        Participation.organisation.name.as_alias("name"),
        Participation.organisation.siret.as_alias("siret"),
        Participation.organisation.kinds.as_alias("kinds"),
        Participation.organisation.city.as_alias("city"),
    ).order_by(Participation.organisation.name)
)


async def organisations(scope: TenantScope) -> list[Row]:
    rows: list[Row] = await _ORGANISATIONS(scope=scope)  # the space's home page: built once
    return rows


async def organisation_in(scope: TenantScope, organisation_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(
            scope,
            Participation,
            Participation.organisation.id.as_alias("id"),
            Participation.organisation.name.as_alias("name"),
        )
        .where(Participation.organisation == organisation_id)
        .first()
    )
    return row


async def insert_participation(scope: TenantScope, organisation_id: uuid.UUID) -> None:
    await scoped.insert(scope, Participation, {"organisation": organisation_id})


# Memberships ------------------------------------------------------------------------------

_MEMBER_COLUMNS = (
    Membership.id,
    Membership.role,
    Membership.may_sign,
    Membership.is_active,
    Membership.created_at,
    Membership.user.id.as_alias("user_id"),
    Membership.user.email.as_alias("email"),
    Membership.user.full_name.as_alias("full_name"),
    Membership.organisation.id.as_alias("organisation_id"),
    Membership.organisation.name.as_alias("organisation_name"),
)


_MEMBERS = prepared(
    lambda p: (
        scoped.select(p.scope, Membership, *_MEMBER_COLUMNS)
        .order_by(Membership.organisation.name)
        .order_by(Membership.user.full_name)
    )
)


async def members(scope: TenantScope) -> list[Row]:
    rows: list[Row] = await _MEMBERS(scope=scope)  # the space's home page: built once
    return rows


async def member(scope: TenantScope, membership_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Membership, *_MEMBER_COLUMNS)
        .where(Membership.id == membership_id)
        .first()
    )
    return row


async def member_of_user(scope: TenantScope, user_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Membership, Membership.id)
        .where(Membership.user == user_id)
        .first()
    )
    return row


async def count_active_pilots(scope: TenantScope) -> int:
    count: int = await scoped.count(scope, Membership).where(
        (Membership.role == "pilot") & (Membership.is_active == True)  # noqa: E712
    )
    return count


async def insert_membership(
    scope: TenantScope,
    user_id: uuid.UUID,
    organisation_id: uuid.UUID,
    role: str,
    may_sign: bool,
) -> uuid.UUID:
    values = {"user": user_id, "organisation": organisation_id, "role": role, "may_sign": may_sign}
    return await scoped.add(scope, Membership, values)


async def update_membership(scope: TenantScope, membership_id: uuid.UUID, **values: Any) -> None:
    await scoped.update(scope, Membership, values).where(Membership.id == membership_id)


# Invitations ------------------------------------------------------------------------------


async def insert_invitation(
    scope: TenantScope,
    *,
    invitation_id: uuid.UUID,
    organisation_id: uuid.UUID,
    email: str,
    role: str,
    may_sign: bool,
    token_hash: str,
    invited_by: uuid.UUID,
    expires_at: dt.datetime,
) -> uuid.UUID:
    values = {
        "id": invitation_id,
        "organisation": organisation_id,
        "email": email,
        "role": role,
        "may_sign": may_sign,
        "token_hash": token_hash,
        "invited_by": invited_by,
        "expires_at": expires_at,
    }
    return await scoped.add(scope, Invitation, values)


async def invitation_for_email(scope: TenantScope, invitation_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(
            scope,
            Invitation,
            *Invitation.all_columns(),
            Invitation.consortium.name.as_alias("consortium_name"),
            Invitation.organisation.name.as_alias("organisation_name"),
            Invitation.invited_by.full_name.as_alias("inviter_name"),
        )
        .where(Invitation.id == invitation_id)
        .first()
    )
    return row


async def pending_invitations(scope: TenantScope, now: dt.datetime) -> list[Row]:
    rows: list[Row] = (
        await scoped.select(
            scope,
            Invitation,
            Invitation.id,
            Invitation.email,
            Invitation.role,
            Invitation.may_sign,
            Invitation.expires_at,
            Invitation.created_at,
            Invitation.organisation.name.as_alias("organisation_name"),
        )
        .where(
            Invitation.accepted_at.is_null()
            & Invitation.revoked_at.is_null()
            & (Invitation.expires_at > now)
        )
        .order_by(Invitation.created_at, ascending=False)
    )
    return rows


async def revoke_invitation(scope: TenantScope, invitation_id: uuid.UUID, now: dt.datetime) -> bool:
    rows = (
        await scoped.update(scope, Invitation, {Invitation.revoked_at: now})
        .where(
            (Invitation.id == invitation_id)
            & Invitation.accepted_at.is_null()
            & Invitation.revoked_at.is_null()
        )
        .returning(Invitation.id)
    )
    return len(rows) == 1


@unscoped("an invitation link is followed before its consortium is known")
async def invitation_by_token(token_hash: str) -> Row | None:
    """Found by its secret token, before the invitee has any scope."""
    row: Row | None = (
        await Invitation.select(
            *Invitation.all_columns(),
            Invitation.consortium.name.as_alias("consortium_name"),
            Invitation.consortium.slug.as_alias("consortium_slug"),
            Invitation.organisation.name.as_alias("organisation_name"),
        )
        .where(Invitation.token_hash == token_hash)
        .first()
    )
    return row


@unscoped("an e-mail proven by an identity provider, invited in any consortium")
async def open_invitations_for_email(email: str, now: dt.datetime) -> list[Row]:
    """An e-mail proven by an identity provider claims what was sent to that address."""
    rows: list[Row] = await Invitation.select().where(
        (Invitation.email == email)
        & Invitation.accepted_at.is_null()
        & Invitation.revoked_at.is_null()
        & (Invitation.expires_at > now)
    )
    return rows


async def mark_invitation_accepted(
    scope: TenantScope, invitation_id: uuid.UUID, now: dt.datetime
) -> bool:
    rows = (
        await scoped.update(scope, Invitation, {Invitation.accepted_at: now})
        .where((Invitation.id == invitation_id) & Invitation.accepted_at.is_null())
        .returning(Invitation.id)
    )
    return len(rows) == 1
