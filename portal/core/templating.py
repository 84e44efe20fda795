"""Jinja2 rendering with the French formats, the CSRF token and one-shot flash messages."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime, parse_pattern
from babel.numbers import (
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
    get_minus_sign_symbol,
)
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from portal.core import money
from portal.settings import get_settings

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
PARIS = ZoneInfo("Europe/Paris")
FLASH_COOKIE = "portal_flash"


# Babel's date pattern, parsed once, and its French currency format, read once: a page of
# payment lines formats a few hundred amounts and dates, and `format_currency` looks the
# locale's pattern, symbols and currency name up again at each call (a third of the budget
# page's CPU). `tests/test_dates.py` checks `euros` against `format_currency`.
FRENCH = Locale.parse("fr_FR")
_DATE = parse_pattern("dd/MM/yyyy")
_EUROS = FRENCH.currency_formats["standard"]  # #,##0.00 ¤: groups of three, two decimals
if _EUROS.grouping != (3, 3) or _EUROS.frac_prec != (2, 2):  # what `euros` writes
    raise RuntimeError(f"format monétaire français inattendu : {_EUROS.pattern}")
_SYMBOL = get_currency_symbol("EUR", locale=FRENCH)
_GROUP, _DECIMAL = get_group_symbol(locale=FRENCH), get_decimal_symbol(locale=FRENCH)
_AFFIXES = tuple(
    (
        prefix.replace("-", get_minus_sign_symbol(locale=FRENCH)).replace("¤", _SYMBOL),
        suffix.replace("¤", _SYMBOL),
    )
    for prefix, suffix in zip(_EUROS.prefix, _EUROS.suffix, strict=True)
)


def date_fr(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.astimezone(PARIS).date()
    return str(_DATE.apply(value, FRENCH))


def datetime_fr(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return format_datetime(value, "dd/MM/yyyy 'à' HH:mm", tzinfo=PARIS, locale="fr_FR")


def euros(cents: int | None) -> str:
    """Integer cents to `1 234,56 €` (narrow no-break spaces, as French typography wants)."""
    if cents is None:
        return ""
    units, hundredths = divmod(abs(cents), 100)
    prefix, suffix = _AFFIXES[cents < 0]
    return f"{prefix}{units:,}".replace(",", _GROUP) + f"{_DECIMAL}{hundredths:02d}{suffix}"


env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html", "xml"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters.update(
    date_fr=date_fr, datetime_fr=datetime_fr, euros=euros, cents_input=money.cents_input
)


def _flash_serializer() -> URLSafeSerializer:
    return URLSafeSerializer(get_settings().secret_key, salt="flash")


def flash(response: Response, message: str) -> Response:
    """Show `message` once on the next page (after a POST-redirect-GET)."""
    response.set_cookie(
        FLASH_COOKIE,
        _flash_serializer().dumps(message),
        httponly=True,
        samesite="lax",
        secure=get_settings().https,
        max_age=60,
    )
    return response


def _take_flash(request: Request) -> str | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        value = _flash_serializer().loads(raw)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


# What the layout shows of the signed-in person, from the domains: the app provides it.
LayoutData = Callable[[Any], Awaitable[dict[str, Any]]]
NO_LAYOUT_DATA: dict[str, Any] = {"my_consortia": [], "unread_notifications": 0}
_layout: list[LayoutData] = []


def provide_layout(data: LayoutData) -> None:
    _layout[:] = [data]


async def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status_code: int = 200
) -> HTMLResponse:
    state = request.scope.get("state", {})
    user = state.get("user")
    message = _take_flash(request)
    layout = await _layout[0](user) if user and _layout else NO_LAYOUT_DATA
    html = env.get_template(template).render(
        request=request,
        user=user,
        tenant=state.get("tenant"),
        **layout,
        csrf_token=state.get("csrf_token", ""),
        flash_message=message,
        **(context or {}),
    )
    response = HTMLResponse(html, status_code=status_code)
    if message:
        response.delete_cookie(FLASH_COOKIE)
    return response
