"""CSRF protection for every state-changing request: a signed double-submit token.

A random value lives in an HttpOnly cookie; forms carry `csrf_token`, the HMAC under the secret
key of that value and of the session cookie. Bound to the session, a token is worthless in any
other session even when an attacker manages to plant their own CSRF cookie in the victim's
browser (cookie tossing from a sibling subdomain). Rotated at login and logout. The body of a
form request is read here and replayed to the application unchanged.

Runs inside `SessionMiddleware`, which puts the session cookie in `state.session_token`.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.core import security
from portal.core.responses import cookie_name
from portal.settings import get_settings

COOKIE = "portal_csrf"  # the plain name: `cookie_name` adds `__Host-` behind HTTPS
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM_BYTES = 1024 * 1024
MAX_PREFIX_BYTES = 64 * 1024
MULTIPART_TOKEN = re.compile(rb'name="csrf_token"\r\n\r\n([0-9a-f]{64})\r\n')


class CsrfRejected(Exception):
    pass


def token_for(secret: str, cookie_value: str, session_token: str | None) -> str:
    # The session enters as its hash: the raw value never needs to be kept beside the token.
    session = security.token_hash(session_token) if session_token else ""
    return security.sign(secret, f"csrf:{cookie_value}:{session}")


def cookie_header(value: str, secure: bool) -> str:
    flags = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
    return f"{cookie_name(COOKIE)}={value}{flags}"


class CsrfMiddleware:
    def __init__(self, app: ASGIApp, secret: str, exempt_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.secret = secret
        # Only for endpoints authenticated by a signed token in their URL, which a forged
        # cross-site request cannot know (e.g. RFC 8058 one-click unsubscribe).
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        state = scope.setdefault("state", {})
        cookie = request.cookies.get(cookie_name(COOKIE), "")
        fresh = ""
        if len(cookie) < 32:
            cookie = fresh = security.new_token()
        # Routes that log in or out call `rotate`; the new value is issued with the response.
        state["csrf_cookie"] = cookie
        state["csrf_token"] = token_for(self.secret, cookie, state.get("session_token"))

        if scope["method"] not in SAFE_METHODS and not scope["path"].startswith(
            self.exempt_prefixes
        ):
            receive, submitted = await self._read_token(request, receive)
            if fresh or not submitted or not security.same(submitted, state["csrf_token"]):
                from portal.core.errors import csrf_failure

                await csrf_failure(request)(scope, receive, send)
                return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                new = state.get("rotated_csrf_cookie") or fresh
                if new:
                    MutableHeaders(scope=message).append(
                        "set-cookie", cookie_header(new, get_settings().https)
                    )
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _read_token(self, request: Request, receive: Receive) -> tuple[Receive, str]:
        """Returns a `receive` that replays what was read, and the submitted token. Multipart
        bodies (uploads) are read only up to their `csrf_token` field, which our forms put
        first, and the rest streams on untouched."""
        header = request.headers.get(HEADER, "")
        content_type = request.headers.get("content-type", "")
        multipart = content_type.startswith("multipart/form-data")
        chunks: list[bytes] = []
        size = 0
        more = True
        token = ""
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            more = message.get("more_body", False)
            if multipart:
                match = MULTIPART_TOKEN.search(b"".join(chunks))
                if match:
                    token = match.group(1).decode("ascii", "replace")
                    break
                if size > MAX_PREFIX_BYTES:
                    break
            elif size > MAX_FORM_BYTES:
                break
        replay = _replay(b"".join(chunks), receive if more else None)
        if header:
            return replay, header
        if content_type.startswith("application/x-www-form-urlencoded") and not more:
            body = b"".join(chunks)
            values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(FIELD, [""])
            return replay, values[0]
        return replay, token


def rotate(request: Request, session_token: str | None) -> None:
    """Issue a new CSRF cookie with this response (at login and logout), bound to the session
    the response opens (`None` when it closes one)."""
    value = security.new_token()
    request.state.rotated_csrf_cookie = value
    request.state.csrf_cookie = value
    request.state.csrf_token = token_for(get_settings().secret_key, value, session_token)


def _replay(body: bytes, rest: Receive | None) -> Receive:
    """Gives back `body` first, then whatever `rest` still has to deliver."""
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": rest is not None}
        if rest is not None:
            return await rest()
        return {"type": "http.disconnect"}

    return receive
