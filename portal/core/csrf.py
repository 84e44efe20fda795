"""CSRF protection for every state-changing request: a signed double-submit token.

A random value lives in an HttpOnly cookie; forms carry `csrf_token`, its HMAC under the secret
key. Rotated at login and logout. The body of a form request is read here and replayed to the
application unchanged.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.core import security

COOKIE = "portal_csrf"
FIELD = "csrf_token"
HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_FORM_BYTES = 1024 * 1024


class CsrfRejected(Exception):
    pass


def token_for(secret: str, cookie_value: str) -> str:
    return security.sign(secret, "csrf:" + cookie_value)


def cookie_header(value: str, secure: bool) -> str:
    flags = "; Path=/; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
    return f"{COOKIE}={value}{flags}"


class CsrfMiddleware:
    def __init__(
        self, app: ASGIApp, secret: str, secure: bool, exempt_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.secret = secret
        self.secure = secure
        # Only for endpoints authenticated by a signed token in their URL, which a forged
        # cross-site request cannot know (e.g. RFC 8058 one-click unsubscribe).
        self.exempt_prefixes = exempt_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        state = scope.setdefault("state", {})
        cookie = request.cookies.get(COOKIE, "")
        fresh = ""
        if len(cookie) < 32:
            cookie = fresh = security.new_token()
        # Routes that log in or out set `rotate_csrf`; the new value is issued with the response.
        state["csrf_cookie"] = cookie
        state["csrf_token"] = token_for(self.secret, cookie)

        if scope["method"] not in SAFE_METHODS and not scope["path"].startswith(
            self.exempt_prefixes
        ):
            body, submitted = await self._read_token(request, receive)
            if fresh or not submitted or not security.same(submitted, state["csrf_token"]):
                from portal.core.errors import csrf_failure

                await csrf_failure(request)(scope, receive, send)
                return
            receive = _replay(body)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                new = state.get("rotated_csrf_cookie") or fresh
                if new:
                    MutableHeaders(scope=message).append(
                        "set-cookie", cookie_header(new, self.secure)
                    )
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    async def _read_token(self, request: Request, receive: Receive) -> tuple[bytes, str]:
        header = request.headers.get(HEADER, "")
        content_type = request.headers.get("content-type", "")
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_FORM_BYTES:
                # Larger bodies (uploads) must authenticate with the header.
                return b"", header
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if header:
            return body, header
        if content_type.startswith("application/x-www-form-urlencoded"):
            values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(FIELD, [""])
            return body, values[0]
        if content_type.startswith("multipart/form-data"):
            form = await Request(request.scope, _replay(body)).form()
            value = form.get(FIELD)
            await form.close()
            return body, value if isinstance(value, str) else ""
        return body, ""


def rotate(request: Request) -> None:
    """Issue a new CSRF cookie with this response (at login and logout)."""
    value = security.new_token()
    request.state.rotated_csrf_cookie = value
    request.state.csrf_cookie = value
    request.state.csrf_token = token_for(_secret(), value)


def _secret() -> str:
    from portal.settings import get_settings

    return get_settings().secret_key


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive
