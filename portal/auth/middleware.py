"""Loads the signed-in user from the session cookie for every request."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from portal.auth import service
from portal.core.responses import cookie_name

COOKIE = "portal_session"  # the plain name: `cookie_name` adds `__Host-` behind HTTPS
# Served without a user: the health check must answer (503) even when the database, which holds
# the sessions, is down; static files never need one.
ANONYMOUS_PATHS = ("/healthz", "/static/")


class SessionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if scope["path"].startswith(ANONYMOUS_PATHS):
            state["session_token"], state["user"] = None, None
            await self.app(scope, receive, send)
            return
        token = HTTPConnection(scope).cookies.get(cookie_name(COOKIE))
        state["session_token"] = token
        state["user"] = await service.user_for_session(token) if token else None
        await self.app(scope, receive, send)
