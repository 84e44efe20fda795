"""Small helpers shared by routes: redirects after POST, the safe `next` address, cookies,
downloads."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from portal.core.storage import quote_filename
from portal.settings import get_settings


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(raw: str | None, default: str = "/") -> str:
    """Only local paths: an attacker must not turn the login page into an open redirect."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return default


def cookie_name(name: str) -> str:
    """Behind HTTPS, `__Host-`: browsers then keep the cookie only if Secure, Path=/ and without
    Domain, so a sibling subdomain cannot plant or overwrite it. Plain HTTP (the embedded
    development default) cannot carry Secure cookies, so the name stays plain there."""
    return f"__Host-{name}" if get_settings().https else name


def set_private_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    """`name` is the plain name; the prefix is added here."""
    response.set_cookie(
        cookie_name(name),
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=get_settings().https,
    )


def delete_private_cookie(response: Response, name: str) -> None:
    # A `__Host-` cookie is only replaced by a Set-Cookie that is itself Secure with Path=/.
    response.delete_cookie(
        cookie_name(name), path="/", httponly=True, samesite="lax", secure=get_settings().https
    )


def path_uuid(request: Request, name: str) -> uuid.UUID:
    """A UUID from the URL; anything else is a page that does not exist."""
    try:
        return uuid.UUID(request.path_params[name])
    except ValueError as exc:
        raise HTTPException(404) from exc


def attachment_response(
    filename: str, content: AsyncIterator[bytes] | bytes | str, media_type: str
) -> Response:
    """A file to download, never cached (it may be confidential)."""
    headers = {
        "content-disposition": f"attachment; filename*=UTF-8''{quote_filename(filename)}",
        "cache-control": "private, no-store",
    }
    if isinstance(content, bytes | str):
        return Response(content, media_type=media_type, headers=headers)
    return StreamingResponse(content, media_type=media_type, headers=headers)


def pdf_response(filename: str, content: AsyncIterator[bytes] | bytes) -> Response:
    return attachment_response(filename, content, "application/pdf")
