"""Small helpers shared by routes: redirects after POST, the safe `next` address, cookies."""

from __future__ import annotations

import uuid

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from portal.settings import get_settings


def see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def safe_next(raw: str | None, default: str = "/") -> str:
    """Only local paths: an attacker must not turn the login page into an open redirect."""
    if raw and raw.startswith("/") and not raw.startswith("//") and "\\" not in raw:
        return raw
    return default


def set_private_cookie(response: RedirectResponse, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax", secure=get_settings().https
    )


def path_uuid(request: Request, name: str) -> uuid.UUID:
    """A UUID from the URL; anything else is a page that does not exist."""
    try:
        return uuid.UUID(request.path_params[name])
    except ValueError as exc:
        raise HTTPException(404) from exc
