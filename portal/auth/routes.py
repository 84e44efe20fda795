"""Login (password and OpenID Connect), logout and password reset pages."""

from __future__ import annotations

import datetime as dt

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.audit import service as audit
from portal.audit.enums import AuditTag
from portal.auth import oidc, service, throttle
from portal.auth.middleware import COOKIE
from portal.auth.service import AuthError, CurrentUser
from portal.auth.web import log_in
from portal.core import csrf
from portal.core.actor import Actor
from portal.core.forms import FieldError, FormResult, read_form, text
from portal.core.responses import (
    cookie_name,
    delete_private_cookie,
    safe_next,
    see_other,
    set_private_cookie,
)
from portal.core.templating import flash, render
from portal.settings import get_settings
from portal.tenants import service as tenants

# Per client address, beside the per-(account, address) lock of `service.authenticate`.
LOGIN_FAILURES_PER_ADDRESS = (20, dt.timedelta(minutes=15))
RESET_REQUESTS_PER_ADDRESS = (10, dt.timedelta(hours=1))


async def login_form(request: Request) -> Response:
    if request.state.user:
        return see_other(safe_next(request.query_params.get("next")))
    return await _login_page(request, {}, "", status_code=200)


async def _login_page(
    request: Request, errors: dict[str, str], email: str, status_code: int, message: str = ""
) -> Response:
    return await render(
        request,
        "auth/login.html",
        {
            "errors": errors,
            "email": email,
            "message": message,
            "next": safe_next(request.query_params.get("next"), ""),
            "providers": get_settings().oidc_providers,
        },
        status_code=status_code,
    )


async def login_submit(request: Request) -> Response:
    form = await read_form(request)
    errors = FormResult.of(form).errors  # e.g. a NUL byte: refused beside its field
    email = text(form, "email", 254)
    password = form.get("password")
    next_url = safe_next(text(form, "next", 500))
    if errors or not email or not isinstance(password, str) or not password:
        if not email and "email" not in errors:
            errors["email"] = "Saisissez votre adresse e-mail."
        if not password and "password" not in errors:
            errors["password"] = "Saisissez votre mot de passe."
        return await _login_page(request, errors, email, 400)
    address = throttle.client_address(request)
    budget = await throttle.check("login", address, *LOGIN_FAILURES_PER_ADDRESS)
    if budget.over:
        page = await _login_page(request, {}, email, 429, budget.message)
        return throttle.retry_after(page, budget)
    try:
        user = await service.authenticate(Actor.of_request(request), email, password)
    except AuthError as exc:
        # Only failures count: a whole office behind one address logs in every morning.
        await throttle.pause(await throttle.hit("login", address, *LOGIN_FAILURES_PER_ADDRESS))
        return await _login_page(request, {}, email, 400, exc.message)
    return await log_in(request, user, next_url)


async def logout(request: Request) -> Response:
    token = request.state.session_token
    user = request.state.user
    if token:
        await service.end_session(token)
    if user:
        await audit.record(AuditTag.LOGOUT, Actor.of_request(request))
    csrf.rotate(request, None)
    response = see_other("/login")
    delete_private_cookie(response, COOKIE)
    return flash(response, "Vous êtes déconnecté(e).")


async def password_forgot(request: Request) -> Response:
    errors: dict[str, str] = {}
    email = ""
    budget: throttle.Count | None = None
    if request.method == "POST":
        form = await read_form(request)
        address = throttle.client_address(request)
        budget = await throttle.hit("password_reset", address, *RESET_REQUESTS_PER_ADDRESS)
        try:
            email = text(form, "email", 254)
            if budget.over:
                raise AuthError(budget.message, "email")
            await service.request_password_reset(Actor.of_request(request), email)
        except FieldError as exc:
            errors["email"] = exc.message
        else:
            return flash(
                see_other("/login"),
                "Si un compte existe pour cette adresse, un e-mail vient de lui être envoyé "
                "avec un lien valable une heure.",
            )
    page = await render(
        request,
        "auth/password_forgot.html",
        {"errors": errors, "email": email},
        status_code=(429 if budget and budget.over else 400) if errors else 200,
    )
    return throttle.retry_after(page, budget) if budget and budget.over else page


async def password_reset(request: Request) -> Response:
    token = request.path_params["token"]
    errors: dict[str, str] = {}
    problem = ""
    if request.method == "POST":
        form = await read_form(request)
        errors = FormResult.of(form).errors
        password = form.get("password")
        confirm = form.get("password_confirm")
        if errors:
            pass  # refused by the form layer, shown beside the field
        elif not isinstance(password, str) or password != confirm:
            errors["password_confirm"] = "Les deux mots de passe ne sont pas identiques."
        else:
            try:
                await service.reset_password(Actor.of_request(request), token, password)
            except AuthError as exc:
                if exc.field:
                    errors[exc.field] = exc.message
                else:
                    problem = exc.message
            else:
                return flash(
                    see_other("/login"),
                    "Votre mot de passe est modifié. Connectez-vous avec le nouveau.",
                )
    elif not await service.reset_token_is_valid(token):
        problem = "Ce lien n'est plus valable. Demandez un nouveau lien de réinitialisation."
    return await render(
        request,
        "auth/password_reset.html",
        {"errors": errors, "problem": problem},
        status_code=400 if (errors or problem) else 200,
    )


def _provider(request: Request):  # type: ignore[no-untyped-def]
    provider = get_settings().oidc_provider(request.path_params["provider"])
    if provider is None:
        raise HTTPException(404)
    return provider


async def oidc_begin(request: Request) -> Response:
    provider = _provider(request)
    try:
        url, flow = await oidc.begin(provider, safe_next(request.query_params.get("next")))
    except oidc.OidcError as exc:
        return await _login_page(request, {}, "", 502, str(exc))
    response = RedirectResponse(url, status_code=303)
    set_private_cookie(response, oidc.COOKIE, flow, oidc.FLOW_MAX_AGE)
    return response


async def oidc_callback(request: Request) -> Response:
    provider = _provider(request)
    params = request.query_params
    if "error" in params:
        return await _login_page(
            request,
            {},
            "",
            400,
            "La connexion a été annulée ou refusée par le fournisseur d'identité.",
        )
    try:
        flow = oidc.read_flow(
            request.cookies.get(cookie_name(oidc.COOKIE)), provider, params.get("state", "")
        )
        identity = await oidc.finish(provider, flow, params.get("code", ""))
    except oidc.OidcError as exc:
        return await _login_page(request, {}, "", 400, str(exc))
    actor = Actor.of_request(request)
    user = await _oidc_user(actor, provider.name, identity)
    if user is None:
        await audit.record(
            AuditTag.LOGIN_OIDC_REFUSED,
            actor.identified(None, identity.email or ""),
            subject=f"{provider.name}:{identity.subject}",
            email_verified=identity.email_verified,
        )
        response: Response = await render(
            request, "auth/no_access.html", {"email": identity.email}, status_code=403
        )
    else:
        await audit.record(
            AuditTag.LOGIN_OIDC_SUCCEEDED,
            actor.identified(user.id, user.email),
            subject=f"{provider.name}:{identity.subject}",
        )
        response = await log_in(request, user, safe_next(flow.get("next")))
    delete_private_cookie(response, oidc.COOKIE)
    return response


async def _oidc_user(
    actor: Actor, provider: str, identity: oidc.VerifiedIdentity
) -> CurrentUser | None:
    """The linking rule: a known identity; else a verified e-mail matching an existing account
    or an open invitation. Anyone else gets no account and no access."""
    from portal.core.db import transaction

    known = await service.user_for_identity(provider, identity.subject)
    if known:
        return known
    if not (identity.email and identity.email_verified):
        return None
    async with transaction():
        user = await service.user_by_email(identity.email)
        if user is None:
            if not await tenants.has_open_invitation(identity.email):
                return None
            user_id = await service.create_user(identity.email, identity.full_name, None)
            user = CurrentUser(user_id, identity.email, identity.full_name, False)
        await service.link_identity(provider, identity.subject, user.id, identity.email)
        await tenants.accept_invitations_for_verified_email(actor, user)
    return user


routes = [
    Route("/login", login_form, methods=["GET"], name="login"),
    Route("/login", login_submit, methods=["POST"], name="login_submit"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/mot-de-passe/oublie", password_forgot, methods=["GET", "POST"], name="password_forgot"),
    Route("/mot-de-passe/{token}", password_reset, methods=["GET", "POST"], name="password_reset"),
    Route("/login/oidc/{provider}", oidc_begin, methods=["GET"], name="oidc_begin"),
    Route("/login/oidc/{provider}/callback", oidc_callback, methods=["GET"], name="oidc_callback"),
]
