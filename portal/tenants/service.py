"""Consortia, their organisations, members and invitations.

Invitation lifecycle:
| from    | to       | who                 | function            | case                         |
|---------|----------|---------------------|---------------------|------------------------------|
| -       | pending  | pilot, platform adm.| `invite`            | someone joins an organisation|
| pending | accepted | the invitee         | `accept_invitation` | link followed within 7 days  |
| pending | revoked  | pilot               | `revoke_invitation` | sent by mistake              |
| pending | expired  | time                | -                   | 7 days passed: link refused  |
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import FormData

from portal.audit import service as audit
from portal.audit.enums import AuditTag
from portal.auth import service as auth
from portal.auth.service import CurrentUser
from portal.core import clock, mail, security
from portal.core.actor import Actor
from portal.core.db import transaction
from portal.core.forms import FieldError, FormResult
from portal.core.permissions import Role
from portal.core.scope import consortium_scope, platform_scope
from portal.core.tenancy import TenantContext, TenantScope
from portal.jobs import service as job_service
from portal.jobs.enums import Delivery
from portal.notifications import service as notifications
from portal.settings import get_settings
from portal.tenants import forms, jobs, repository
from portal.tenants.enums import ConsortiumStatus

INVITATION_LIFETIME = dt.timedelta(days=7)


class TenantError(FieldError):
    pass


async def resolve_tenant(slug: str, user_id: uuid.UUID) -> TenantContext | None:
    consortium = await repository.consortium_by_slug(slug)
    if consortium is None:
        return None
    async with consortium_scope(consortium["id"]):
        row = await repository.active_membership(slug, user_id)
    if row is None:
        return None
    return TenantContext.for_member(
        consortium_id=row["consortium.id"],
        slug=row["consortium.slug"],
        name=row["consortium.name"],
        user_id=user_id,
        membership_id=row["id"],
        organisation_id=row["organisation"],
        role=row["role"],
        may_sign=row["may_sign"],
        second_factor_required=row["role"] == Role.PILOT
        and bool(row["consortium.pilot_second_factor_required"]),
    )


async def consortia_for_switcher(user_id: uuid.UUID) -> list[dict[str, Any]]:
    async with platform_scope("the spaces a person belongs to, in every consortium"):
        return await repository.consortia_of(user_id)


# Platform administration ------------------------------------------------------------------


async def list_consortia() -> list[dict[str, Any]]:
    return await repository.all_consortia()


async def scope_and_consortium(
    consortium_id: uuid.UUID,
) -> tuple[TenantScope, dict[str, Any]] | None:
    """The scope a platform administrator acts in; they are not a member and see no tenant page."""
    row = await repository.consortium_by_id(consortium_id)
    if row is None:
        return None
    reason = "a consortium named by its id (an administrator's choice, or the caller's own)"
    return TenantScope.for_platform(row["id"], reason=reason), row


async def create_consortium(actor: Actor, values: dict[str, Any]) -> uuid.UUID:
    if await repository.consortium_by_slug(values["slug"]):
        raise TenantError("Cet identifiant d'adresse est déjà pris.", "slug")
    async with transaction():
        consortium_id = await repository.insert_consortium(
            values["name"],
            values["slug"],
            values["programme"],
            values["departements"],
            values["status"],
        )
        await audit.record(
            AuditTag.CONSORTIUM_CREATED,
            actor,
            consortium_id=consortium_id,
            subject=values["slug"],
        )
    return consortium_id


# Organisations ----------------------------------------------------------------------------


async def organisations(scope: TenantScope) -> list[dict[str, Any]]:
    return await repository.organisations(scope)


async def add_organisation(actor: Actor, scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    """Adds an organisation to the consortium; one already known by its SIRET is reused as is."""
    async with transaction():
        existing = await repository.organisation_by_siret(values["siret"])
        if existing:
            organisation_id: uuid.UUID = existing["id"]
            if await repository.organisation_in(scope, organisation_id):
                raise TenantError(f"{existing['name']} fait déjà partie du consortium.", "siret")
        else:
            organisation_id = await repository.insert_organisation(
                values["name"], values["siret"], values["kinds"], values["city"]
            )
        await repository.insert_participation(scope, organisation_id)
        await audit.record_action(
            AuditTag.ORGANISATION_ADDED,
            actor,
            scope,
            subject=values["siret"],
        )
    return organisation_id


# Members ----------------------------------------------------------------------------------


async def members(scope: TenantScope) -> list[dict[str, Any]]:
    return await repository.members(scope)


async def member(scope: TenantScope, membership_id: uuid.UUID) -> dict[str, Any] | None:
    return await repository.member(scope, membership_id)


async def _ensure_other_pilot(ctx: TenantScope, current: dict[str, Any]) -> None:
    if current["role"] == Role.PILOT and current["is_active"]:
        if await repository.count_active_pilots(ctx) <= 1:
            raise TenantError(
                "C'est le dernier pilote du consortium : nommez d'abord un autre pilote.", "role"
            )


async def change_member(
    actor: Actor,
    ctx: TenantContext,
    membership_id: uuid.UUID,
    role: str,
    may_sign: bool,
) -> None:
    async with transaction():
        current = await repository.member(ctx, membership_id)
        if current is None:
            raise LookupError(membership_id)
        if role != Role.PILOT:
            await _ensure_other_pilot(ctx, current)
        await repository.update_membership(ctx, membership_id, role=role, may_sign=may_sign)
        await audit.record_action(
            AuditTag.MEMBER_ROLE_CHANGED,
            actor,
            ctx,
            subject=current["email"],
            role_before=current["role"],
            role_after=role,
            may_sign_before=current["may_sign"],
            may_sign_after=may_sign,
        )


async def set_member_active(
    actor: Actor, ctx: TenantContext, membership_id: uuid.UUID, active: bool
) -> None:
    async with transaction():
        current = await repository.member(ctx, membership_id)
        if current is None:
            raise LookupError(membership_id)
        if not active:
            await _ensure_other_pilot(ctx, current)
        await repository.update_membership(ctx, membership_id, is_active=active)
        await audit.record_action(
            AuditTag.MEMBER_REACTIVATED if active else AuditTag.MEMBER_DEACTIVATED,
            actor,
            ctx,
            subject=current["email"],
        )


# Invitations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class InvitationView:
    """What the invitee sees before accepting; `problem` is set when the link cannot be used."""

    id: uuid.UUID
    email: str
    consortium_name: str
    consortium_slug: str
    organisation_name: str
    role: str
    problem: str | None
    scope: TenantScope
    organisation_id: uuid.UUID
    may_sign: bool
    invited_by: uuid.UUID | None


async def pending_invitations(scope: TenantScope) -> list[dict[str, Any]]:
    return await repository.pending_invitations(scope, clock.now())


async def invite(
    actor: Actor, scope: TenantScope, user: CurrentUser, values: dict[str, Any]
) -> None:
    organisation = await repository.organisation_in(scope, values["organisation_id"])
    if organisation is None:
        raise TenantError("Choisissez une organisation du consortium.", "organisation")
    existing_user = await auth.user_by_email(values["email"])
    if existing_user:
        existing = await repository.member_of_user(scope, existing_user.id)
        if existing:
            raise TenantError("Cette personne est déjà membre du consortium.", "email")
    invitation_id = uuid.uuid4()
    async with transaction():
        await repository.insert_invitation(
            scope,
            invitation_id=invitation_id,
            organisation_id=values["organisation_id"],
            email=values["email"],
            role=values["role"],
            may_sign=values["may_sign"],
            token_hash=security.token_hash(_invitation_token(invitation_id)),
            invited_by=user.id,
            expires_at=clock.now() + INVITATION_LIFETIME,
        )
        await audit.record_action(
            AuditTag.INVITATION_SENT,
            actor,
            scope,
            subject=values["email"],
            role=values["role"],
        )
        await jobs.enqueue_invitation_email(scope, invitation_id)


def _invitation_token(invitation_id: uuid.UUID) -> str:
    return security.derived_token(get_settings().secret_key, "invitation", invitation_id)


async def send_invitation_email(scope: TenantScope, invitation_id: uuid.UUID) -> None:
    """The job behind `invite`; nothing is sent for an invitation no longer open."""
    row = await repository.invitation_for_email(scope, invitation_id)
    if row is None or row["accepted_at"] or row["revoked_at"] or row["expires_at"] <= clock.now():
        return
    settings = get_settings()
    message = mail.build_message(
        settings,
        row["email"],
        f"Invitation à rejoindre {row['consortium_name']}",
        "invitation",
        {
            "consortium": row["consortium_name"],
            "organisation": row["organisation_name"],
            "role": row["role"],
            "inviter": row["inviter_name"] or "Le pilote du consortium",
            "link": f"{settings.base_url}/invitations/{_invitation_token(invitation_id)}",
            "expires_at": row["expires_at"],
            "has_account": await auth.user_by_email(row["email"]) is not None,
        },
    )
    await job_service.deliver_once(f"invitation:{invitation_id}", message, Delivery.AT_LEAST_ONCE)


async def revoke_invitation(actor: Actor, ctx: TenantContext, invitation_id: uuid.UUID) -> None:
    async with transaction():
        if not await repository.revoke_invitation(ctx, invitation_id, clock.now()):
            raise LookupError(invitation_id)
        await audit.record_action(
            AuditTag.INVITATION_REVOKED,
            actor,
            ctx,
        )


async def invitation_for_token(token: str) -> InvitationView | None:
    async with platform_scope("an invitation link is followed before its consortium is known"):
        row = await repository.invitation_by_token(security.token_hash(token))
    if row is None:
        return None
    problem = None
    if row["accepted_at"] is not None:
        problem = "Cette invitation a déjà été acceptée. Connectez-vous pour accéder à l'espace."
    elif row["revoked_at"] is not None:
        problem = "Cette invitation a été annulée par le pilote du consortium."
    elif row["expires_at"] <= clock.now():
        problem = (
            "Cette invitation a expiré (elle était valable 7 jours). "
            "Demandez au pilote du consortium de vous inviter à nouveau."
        )
    return InvitationView(
        id=row["id"],
        email=row["email"],
        consortium_name=row["consortium_name"],
        consortium_slug=row["consortium_slug"],
        organisation_name=row["organisation_name"],
        role=row["role"],
        problem=problem,
        scope=TenantScope.for_platform(
            row["consortium"], reason="an invitation link names its consortium"
        ),
        organisation_id=row["organisation"],
        may_sign=row["may_sign"],
        invited_by=row["invited_by"],
    )


async def _join(actor: Actor, invitation: InvitationView, user: CurrentUser) -> None:
    """Inside a transaction: marks the invitation used and grants (or restores) membership."""
    async with consortium_scope(invitation.scope.consortium_id):
        await _joined(actor, invitation, user)


async def _joined(actor: Actor, invitation: InvitationView, user: CurrentUser) -> None:
    if not await repository.mark_invitation_accepted(invitation.scope, invitation.id, clock.now()):
        raise TenantError("Cette invitation a déjà été utilisée.")
    existing = await repository.member_of_user(invitation.scope, user.id)
    if existing:
        await repository.update_membership(
            invitation.scope,
            existing["id"],
            organisation=invitation.organisation_id,
            role=invitation.role,
            may_sign=invitation.may_sign,
            is_active=True,
        )
    else:
        await repository.insert_membership(
            invitation.scope,
            user.id,
            invitation.organisation_id,
            invitation.role,
            invitation.may_sign,
        )
    await audit.record_action(
        AuditTag.INVITATION_ACCEPTED,
        # The invitee, whose session may not hold them yet (a new account, a provider's login).
        actor.identified(user.id, user.email),
        invitation.scope,
        subject=user.email,
        role=invitation.role,
    )
    if invitation.invited_by and invitation.invited_by != user.id:
        consortium = await repository.consortium_by_id(invitation.scope.consortium_id)
        assert consortium is not None
        await notifications.notify(
            [invitation.invited_by],
            kind="invitation_accepted",
            title=f"{user.full_name} a rejoint l'espace {consortium['name']}",
            body=f"Invitation acceptée par {user.email}.",
            link=f"/c/{consortium['slug']}/membres",
            consortium_id=invitation.scope.consortium_id,
        )


async def accept_invitation(actor: Actor, token: str, user: CurrentUser) -> InvitationView:
    invitation = await invitation_for_token(token)
    if invitation is None:
        raise TenantError("Ce lien d'invitation n'est pas valable.")
    if invitation.problem:
        raise TenantError(invitation.problem)
    if invitation.email != user.email:
        raise TenantError(
            f"Cette invitation est adressée à {invitation.email}. Déconnectez-vous puis "
            "ouvrez le lien avec ce compte."
        )
    async with transaction():
        await _join(actor, invitation, user)
    return invitation


async def register_and_accept(
    actor: Actor, token: str, full_name: str, password: str
) -> tuple[CurrentUser, InvitationView]:
    invitation = await invitation_for_token(token)
    if invitation is None:
        raise TenantError("Ce lien d'invitation n'est pas valable.")
    if invitation.problem:
        raise TenantError(invitation.problem)
    if len(full_name) < 2:
        raise TenantError("Indiquez vos prénom et nom.", "full_name")
    if await auth.user_by_email(invitation.email):
        raise TenantError(
            "Un compte existe déjà pour cette adresse : connectez-vous pour accepter."
        )
    async with transaction():
        try:
            user_id = await auth.create_user(invitation.email, full_name, password)
        except auth.AuthError as exc:
            raise TenantError(exc.message, exc.field) from exc
        user = CurrentUser(
            id=user_id, email=invitation.email, full_name=full_name, is_platform_admin=False
        )
        await _join(actor, invitation, user)
    return user, invitation


async def accept_invitations_for_verified_email(actor: Actor, user: CurrentUser) -> int:
    """After an identity provider proved `user.email`: join what was sent to that address."""
    count = 0
    for row in await _open_invitations(user.email):
        view = InvitationView(
            id=row["id"],
            email=row["email"],
            consortium_name="",
            consortium_slug="",
            organisation_name="",
            role=row["role"],
            problem=None,
            scope=TenantScope.for_platform(
                row["consortium"],
                reason="an invitation sent to an e-mail an identity provider proved",
            ),
            organisation_id=row["organisation"],
            may_sign=row["may_sign"],
            invited_by=row["invited_by"],
        )
        await _join(actor, view, user)
        count += 1
    return count


async def has_open_invitation(email: str) -> bool:
    return bool(await _open_invitations(email))


async def _open_invitations(email: str) -> list[dict[str, Any]]:
    async with platform_scope("an e-mail's open invitations, in every consortium"):
        return await repository.open_invitations_for_email(email, clock.now())


async def account_exists(email: str) -> bool:
    return await auth.user_by_email(email) is not None


async def active_consortia() -> list[dict[str, Any]]:
    return [c for c in await repository.all_consortia() if c["status"] == ConsortiumStatus.ACTIVE]


async def active_pilots(scope: TenantScope) -> list[uuid.UUID]:
    return [
        m["user_id"]
        for m in await repository.members(scope)
        if m["is_active"] and m["role"] == Role.PILOT
    ]


async def active_members_of(scope: TenantScope, organisation_id: uuid.UUID) -> list[uuid.UUID]:
    return [
        m["user_id"]
        for m in await repository.members(scope)
        if m["is_active"] and m["organisation_id"] == organisation_id
    ]


async def organisation_in(scope: TenantScope, organisation_id: uuid.UUID) -> dict[str, Any] | None:
    return await repository.organisation_in(scope, organisation_id)


# Consortium settings (the pilot's) ---------------------------------------------------------


async def consortium_settings(scope: TenantScope) -> dict[str, Any]:
    return await repository.consortium_settings(scope)


async def self_review_allowed(scope: TenantScope) -> bool:
    """May an organisation validate a justificatif it deposited itself (pilot included)?"""
    return bool((await repository.consortium_settings(scope)).get("self_review_allowed"))


async def update_settings(actor: Actor, ctx: TenantContext, values: dict[str, Any]) -> None:
    before = await repository.consortium_settings(ctx)
    changed = {k: v for k, v in values.items() if before.get(k) != v}
    if not changed:
        return
    async with transaction():
        await repository.update_consortium_settings(ctx, changed)
        await audit.record_action(
            AuditTag.CONSORTIUM_SETTINGS_CHANGED, actor, ctx, subject="settings", **changed
        )


# The forms the platform administration shares with the consortium's pages -------------------


def consortium_form(form: FormData) -> FormResult:
    return forms.consortium_form(form)


def organisation_form(form: FormData) -> FormResult:
    return forms.organisation_form(form)


def invitation_form(form: FormData) -> FormResult:
    return forms.invitation_form(form)
