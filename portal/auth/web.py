"""Opening a session at login: a fresh token and CSRF cookie each time (no session fixation);
with a second factor, a pending session that opens only the code step. It sets cookies on the
request and the response, so it is the web layer's, not the service's: the login pages use it,
and so does the invitation page of the tenants domain (tests/test_layers.py, rule 1)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse

from portal.auth import second_factor, service
from portal.auth.middleware import COOKIE
from portal.auth.service import CurrentUser
from portal.core import csrf
from portal.core.responses import see_other, set_private_cookie


async def log_in(request: Request, user: CurrentUser, next_url: str) -> RedirectResponse:
    """A fresh session token and CSRF cookie at every login (no session fixation). With a
    second factor, a pending session that opens only the code step (see second_factor.py)."""
    if user.has_second_factor:
        return await open_session(
            request, user, f"/login/code?next={quote(next_url)}", pending=True
        )
    return await open_session(request, user, next_url)


async def open_session(
    request: Request, user: CurrentUser, next_url: str, pending: bool = False
) -> RedirectResponse:
    old = request.state.session_token
    if old:
        await service.end_session(old)
    lifetime = second_factor.PENDING_LIFETIME if pending else service.SESSION_LIFETIME
    token = await service.start_session(user.id, pending=pending, lifetime=lifetime)
    csrf.rotate(request, token)
    response = see_other(next_url)
    set_private_cookie(response, COOKIE, token, int(lifetime.total_seconds()))
    return response
