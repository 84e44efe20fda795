"""Loads the signed-in user from the session cookie for every request."""

from __future__ import annotations

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from portal.auth import service

COOKIE = "portal_session"


class SessionMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        token = HTTPConnection(scope).cookies.get(COOKIE)
        state["session_token"] = token
        state["user"] = await service.user_for_session(token) if token else None
        await self.app(scope, receive, send)
