"""Pages of the second factor: the code step of the login, and « Sécurité du compte » where one
enrols, renews recovery codes or turns TOTP off. The rules live in second_factor.py."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.auth import second_factor, service, throttle
from portal.auth.middleware import COOKIE
from portal.auth.routes import LOGIN_FAILURES_PER_ADDRESS
from portal.auth.second_factor import SecondFactorError
from portal.auth.web import open_session
from portal.core.actor import Actor
from portal.core.forms import read_form, text
from portal.core.permissions import login_required
from portal.core.responses import delete_private_cookie, safe_next, see_other
from portal.core.templating import flash, render

ACCOUNT = "/compte/securite"


def account_url(next_url: str = "") -> str:
    """Where someone who must enrol is sent, coming back to `next_url` afterwards."""
    return f"{ACCOUNT}?next={quote(next_url)}" if next_url else ACCOUNT


async def login_code(request: Request) -> Response:
    next_url = safe_next(request.query_params.get("next"))
    if request.state.user:
        return see_other(next_url)
    token = request.state.session_token
    user = await service.user_for_session(token, pending=True) if token else None
    if user is None or token is None:
        return flash(
            see_other(f"/login?next={quote(next_url)}"),
            "Votre connexion a expiré : saisissez de nouveau votre mot de passe.",
        )
    errors: dict[str, str] = {}
    if request.method == "POST":
        # Wrong codes spend the address's login budget, as wrong passwords do.
        address = throttle.client_address(request)
        budget = await throttle.check("login", address, *LOGIN_FAILURES_PER_ADDRESS)
        if budget.over:
            page = await render(
                request,
                "auth/login_code.html",
                {"errors": {"code": budget.message}, "next": next_url},
                status_code=429,
            )
            return throttle.retry_after(page, budget)
        form = await read_form(request)
        try:
            await second_factor.verify_login(
                Actor.of_request(request), user, text(form, "code", 64)
            )
        except SecondFactorError as exc:
            if exc.field:
                await throttle.pause(
                    await throttle.hit("login", address, *LOGIN_FAILURES_PER_ADDRESS)
                )
                errors[exc.field] = exc.message
            else:  # locked: the pending session ends, the password step starts again later
                await service.end_session(token)
                response = see_other(f"/login?next={quote(next_url)}")
                delete_private_cookie(response, COOKIE)
                return flash(response, exc.message)
        else:
            return await open_session(request, user, next_url)
    return await render(
        request,
        "auth/login_code.html",
        {"errors": errors, "next": next_url},
        status_code=400 if errors else 200,
    )


@login_required
async def account_security(request: Request) -> Response:
    return await _account_page(request, {})


async def _account_page(request: Request, errors: dict[str, str]) -> Response:
    user = request.state.user
    enabled_at = await second_factor.confirmed_at(user)
    return await render(
        request,
        "auth/security.html",
        {
            "enabled_at": enabled_at,
            "remaining": await second_factor.remaining_recovery_codes(user) if enabled_at else 0,
            "required": user.is_platform_admin,
            "errors": errors,
            "next": safe_next(request.query_params.get("next"), ""),
        },
        status_code=400 if errors else 200,
    )


@login_required
async def totp_start(request: Request) -> Response:
    form = await read_form(request)
    next_url = safe_next(text(form, "next", 500), "")
    try:
        await second_factor.start_enrolment(request.state.user)
    except SecondFactorError as exc:
        return flash(see_other(ACCOUNT), exc.message)
    return see_other(f"{ACCOUNT}/totp?next={quote(next_url)}" if next_url else f"{ACCOUNT}/totp")


@login_required
async def totp_enrol(request: Request) -> Response:
    return await _enrol_page(request, {}, safe_next(request.query_params.get("next"), ""))


async def _enrol_page(request: Request, errors: dict[str, str], next_url: str) -> Response:
    enrolment = await second_factor.enrolment(request.state.user)
    if enrolment is None:
        return see_other(account_url(next_url))
    return await render(
        request,
        "auth/totp_enrol.html",
        {"enrolment": enrolment, "errors": errors, "next": next_url},
        status_code=400 if errors else 200,
    )


@login_required
async def totp_confirm(request: Request) -> Response:
    form = await read_form(request)
    next_url = safe_next(text(form, "next", 500), "")
    try:
        codes = await second_factor.confirm_enrolment(
            Actor.of_request(request), request.state.user, text(form, "code", 64)
        )
    except SecondFactorError as exc:
        if not exc.field:
            return flash(see_other(ACCOUNT), exc.message)
        return await _enrol_page(request, {exc.field: exc.message}, next_url)
    # Rendered, not redirected: the codes exist in clear only in this answer.
    return await _codes_page(request, codes, next_url, enrolled=True)


async def _codes_page(
    request: Request, codes: list[str], next_url: str, enrolled: bool
) -> Response:
    response = await render(
        request,
        "auth/recovery_codes.html",
        {"codes": codes, "next": next_url or ACCOUNT, "enrolled": enrolled},
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@login_required
async def recovery_codes_renew(request: Request) -> Response:
    form = await read_form(request)
    try:
        codes = await second_factor.renew_recovery_codes(
            Actor.of_request(request), request.state.user, text(form, "renew_code", 64)
        )
    except SecondFactorError as exc:
        return await _account_page(request, {"renew_code": exc.message})
    return await _codes_page(request, codes, ACCOUNT, enrolled=False)


@login_required
async def totp_disable(request: Request) -> Response:
    form = await read_form(request)
    try:
        await second_factor.disable(
            Actor.of_request(request), request.state.user, text(form, "disable_code", 64)
        )
    except SecondFactorError as exc:
        return await _account_page(request, {"disable_code": exc.message})
    return flash(see_other(ACCOUNT), "La double authentification est désactivée.")


routes = [
    Route("/login/code", login_code, methods=["GET", "POST"], name="login_code"),
    Route(ACCOUNT, account_security, methods=["GET"], name="account_security"),
    Route(f"{ACCOUNT}/totp", totp_enrol, methods=["GET"], name="totp_enrol"),
    Route(f"{ACCOUNT}/totp", totp_start, methods=["POST"], name="totp_start"),
    Route(f"{ACCOUNT}/totp/confirmation", totp_confirm, methods=["POST"], name="totp_confirm"),
    Route(f"{ACCOUNT}/totp/desactivation", totp_disable, methods=["POST"], name="totp_disable"),
    Route(f"{ACCOUNT}/codes", recovery_codes_renew, methods=["POST"], name="recovery_codes_renew"),
]
