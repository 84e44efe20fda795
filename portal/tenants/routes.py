"""Pages of a consortium's space, all mounted under `/c/{slug}/` behind `TenantMiddleware`."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.audit import service as audit
from portal.auth import web as auth_web
from portal.core.actor import Actor
from portal.core.forms import read_form, submit, text
from portal.core.permissions import MATRIX, REVIEW_RULE, Permission, Role, allows, requires
from portal.core.responses import path_uuid, see_other
from portal.core.templating import flash, render
from portal.households import service as households
from portal.tenants import forms, service
from portal.tenants.enums import OrganisationKind
from portal.tenants.service import TenantError


def _base(request: Request) -> str:
    return f"/c/{request.state.tenant.slug}"


@requires(Permission.SPACE_VIEW)
async def tenant_home(request: Request) -> Response:
    from portal.signing import service as signing

    ctx, user = request.state.tenant, request.state.user
    members = await service.members(ctx)
    return await render(
        request,
        "tenants/home.html",
        {
            "awaiting": await signing.awaiting(ctx, user.id, user.email),
            "organisations": await service.organisations(ctx),
            "members": [m for m in members if m["is_active"]],
            "can": lambda p: allows(ctx.role, Permission(p)),
        },
    )


async def _members_page(
    request: Request, errors: dict[str, str] | None = None, values: dict[str, object] | None = None
) -> Response:
    ctx = request.state.tenant
    return await render(
        request,
        "tenants/members.html",
        {
            "members": await service.members(ctx),
            "organisations": await service.organisations(ctx),
            "invitations": await service.pending_invitations(ctx)
            if allows(ctx.role, Permission.MEMBERS_INVITE)
            else [],
            "roles": list(Role),
            "errors": errors or {},
            "values": values or {},
            "can": lambda p: allows(ctx.role, Permission(p)),
        },
        status_code=400 if errors else 200,
    )


@requires(Permission.MEMBERS_VIEW)
async def member_list(request: Request) -> Response:
    return await _members_page(request)


@requires(Permission.MEMBERS_INVITE)
async def invitation_create(request: Request) -> Response:
    result = forms.invitation_form(await read_form(request))
    ctx, user = request.state.tenant, request.state.user
    await submit(
        result, lambda: service.invite(Actor.of_request(request), ctx, user, result.values), "email"
    )
    if not result.ok:
        return await _members_page(request, result.errors, result.values)
    return flash(
        see_other(f"{_base(request)}/membres"),
        f"Invitation envoyée à {result.values['email']} (valable 7 jours).",
    )


@requires(Permission.MEMBERS_INVITE)
async def invitation_revoke(request: Request) -> Response:
    try:
        await service.revoke_invitation(
            Actor.of_request(request), request.state.tenant, path_uuid(request, "invitation_id")
        )
    except LookupError as exc:
        raise HTTPException(404) from exc
    return flash(see_other(f"{_base(request)}/membres"), "Invitation annulée.")


@requires(Permission.MEMBERS_MANAGE)
async def member_edit(request: Request) -> Response:
    ctx = request.state.tenant
    membership_id = path_uuid(request, "member_id")
    member = await service.member(ctx, membership_id)
    if member is None:
        raise HTTPException(404)
    errors: dict[str, str] = {}
    if request.method == "POST":
        result = forms.member_form(await read_form(request))
        errors = result.errors
        if result.ok:
            try:
                await service.change_member(
                    Actor.of_request(request),
                    ctx,
                    membership_id,
                    result.values["role"],
                    result.values["may_sign"],
                )
            except TenantError as exc:
                errors[exc.field or "role"] = exc.message
            else:
                return flash(
                    see_other(f"{_base(request)}/membres"),
                    f"Rôle de {member['full_name']} mis à jour.",
                )
        member = {**member, **result.values}
    return await render(
        request,
        "tenants/member_edit.html",
        {"member": member, "roles": list(Role), "errors": errors},
        status_code=400 if errors else 200,
    )


@requires(Permission.MEMBERS_MANAGE)
async def member_toggle(request: Request) -> Response:
    ctx = request.state.tenant
    membership_id = path_uuid(request, "member_id")
    member = await service.member(ctx, membership_id)
    if member is None:
        raise HTTPException(404)
    activate = not member["is_active"]
    try:
        await service.set_member_active(Actor.of_request(request), ctx, membership_id, activate)
    except TenantError as exc:
        return flash(see_other(f"{_base(request)}/membres"), exc.message)
    verb = "réactivé(e)" if activate else "désactivé(e)"
    return flash(see_other(f"{_base(request)}/membres"), f"{member['full_name']} est {verb}.")


@requires(Permission.MEMBERS_VIEW)
async def organisation_list(request: Request) -> Response:
    return await _organisations_page(request)


async def _organisations_page(
    request: Request, errors: dict[str, str] | None = None, values: dict[str, object] | None = None
) -> Response:
    ctx = request.state.tenant
    return await render(
        request,
        "tenants/organisations.html",
        {
            "organisations": await service.organisations(ctx),
            "kinds": list(OrganisationKind),
            "errors": errors or {},
            "values": values or {},
            "can": lambda p: allows(ctx.role, Permission(p)),
        },
        status_code=400 if errors else 200,
    )


@requires(Permission.ORGANISATIONS_MANAGE)
async def organisation_create(request: Request) -> Response:
    result = forms.organisation_form(await read_form(request))
    ctx = request.state.tenant
    await submit(
        result,
        lambda: service.add_organisation(Actor.of_request(request), ctx, result.values),
        "siret",
    )
    if not result.ok:
        return await _organisations_page(request, result.errors, result.values)
    return flash(
        see_other(f"{_base(request)}/organisations"),
        f"{result.values['name']} a rejoint le consortium.",
    )


@requires(Permission.SPACE_VIEW)
async def tenant_roles(request: Request) -> Response:
    return await render(
        request,
        "roles.html",
        {
            "matrix": MATRIX,
            "roles": list(Role),
            "permissions": list(Permission),
            "review_rule": REVIEW_RULE,
            "self_review_allowed": await service.self_review_allowed(request.state.tenant),
            "households": households.visibility(),
        },
    )


@requires(Permission.SETTINGS_MANAGE)
async def consortium_settings(request: Request) -> Response:
    ctx = request.state.tenant
    errors: dict[str, str] = {}
    if request.method == "POST":
        result = forms.settings_form(await read_form(request))
        if result.ok:
            await service.update_settings(Actor.of_request(request), ctx, result.values)
            return flash(see_other(f"{_base(request)}/reglages"), "Réglages enregistrés.")
        errors = result.errors
    return await render(
        request,
        "tenants/settings.html",
        {"settings": await service.consortium_settings(ctx), "errors": errors},
        status_code=400 if errors else 200,
    )


@requires(Permission.AUDIT_VIEW)
async def audit_log(request: Request) -> Response:
    return await render(
        request, "tenants/audit.html", {"events": await audit.tenant_events(request.state.tenant)}
    )


routes = [
    Route("/", tenant_home, methods=["GET"], name="tenant_home"),
    Route("/membres", member_list, methods=["GET"], name="member_list"),
    Route("/membres/{member_id}", member_edit, methods=["GET", "POST"], name="member_edit"),
    Route("/membres/{member_id}/activation", member_toggle, methods=["POST"], name="member_toggle"),
    Route("/invitations", invitation_create, methods=["POST"], name="invitation_create"),
    Route(
        "/invitations/{invitation_id}/annulation",
        invitation_revoke,
        methods=["POST"],
        name="invitation_revoke",
    ),
    Route("/organisations", organisation_list, methods=["GET"], name="organisation_list"),
    Route("/organisations", organisation_create, methods=["POST"], name="organisation_create"),
    Route("/roles", tenant_roles, methods=["GET"], name="tenant_roles"),
    Route("/journal", audit_log, methods=["GET"], name="audit_log"),
    Route("/reglages", consortium_settings, methods=["GET", "POST"], name="consortium_settings"),
]


# Following an invitation link: outside any consortium, since the invitee is not a member yet.


async def invitation_accept(request: Request) -> Response:
    token = request.path_params["token"]
    invitation = await service.invitation_for_token(token)
    if invitation is None:
        raise HTTPException(404)
    user = request.state.user
    errors: dict[str, str] = {}
    problem = invitation.problem
    full_name = ""
    if request.method == "POST" and not problem:
        form = await read_form(request)
        try:
            if user:
                await service.accept_invitation(Actor.of_request(request), token, user)
                response = see_other(f"/c/{invitation.consortium_slug}/")
            else:
                full_name = text(form, "full_name")
                password = form.get("password")
                if not isinstance(password, str) or password != form.get("password_confirm"):
                    raise TenantError(
                        "Les deux mots de passe ne sont pas identiques.", "password_confirm"
                    )
                new_user, _ = await service.register_and_accept(
                    Actor.of_request(request), token, full_name, password
                )
                response = await auth_web.log_in(
                    request, new_user, f"/c/{invitation.consortium_slug}/"
                )
            return flash(response, f"Bienvenue dans l'espace {invitation.consortium_name}.")
        except TenantError as exc:
            if exc.field:
                errors[exc.field] = exc.message
            else:
                problem = exc.message
    has_account = user is None and await service.account_exists(invitation.email)
    return await render(
        request,
        "tenants/invitation.html",
        {
            "invitation": invitation,
            "problem": problem,
            "errors": errors,
            "full_name": full_name,
            "has_account": has_account,
            "token": token,
        },
        status_code=400 if (errors or (problem and request.method == "POST")) else 200,
    )


public_routes = [
    Route(
        "/invitations/{token}", invitation_accept, methods=["GET", "POST"], name="invitation_accept"
    ),
]
