"""The limit for `pages.py`: the tenant home page's rows (the signed-in person, the consortium
switcher, unread notifications, organisations, active members) read with asyncpg on one pooled
connection per request and rendered by Jinja2 (`bare_home.html`), in a bare Starlette app with
no middleware.

    PORTAL_DATABASE_URL=postgresql://… uvicorn --app-dir infra/bench bare_home:app --workers 2

It honours the portal's session cookie (same lookup: token hash, expiry, membership), so the same
signed-in clients drive both; nothing else the portal checks (CSRF, outage, roles) is done.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import jinja2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

PAGE = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent), autoescape=True
).get_template("bare_home.html")
NAV = [
    ("Accueil", "/"),
    ("Organisations", "/organisations"),
    ("Membres", "/membres"),
    ("Conventions", "/conventions"),
    ("Pièces", "/pieces"),
    ("Versements", "/versements"),
    ("Échéances", "/echeances"),
]
TENANT = """
SELECT u.id AS user_id, u.full_name, c.id, c.slug, c.name, m.role, m.may_sign
FROM auth_session s
JOIN auth_user u ON u.id = s."user" AND u.is_active
JOIN tenants_membership m ON m."user" = u.id AND m.is_active
JOIN tenants_consortium c ON c.id = m.consortium AND c.slug = $2
WHERE s.token_hash = $1 AND s.expires_at > now() AND NOT s.pending
"""
CONSORTIA = """
SELECT c.slug, c.name FROM tenants_membership m JOIN tenants_consortium c ON c.id = m.consortium
WHERE m."user" = $1 AND m.is_active ORDER BY c.name
"""
UNREAD = 'SELECT count(*) FROM notifications_notification WHERE "user" = $1 AND read_at IS NULL'
ORGANISATIONS = """
SELECT o.name, o.city, o.kinds FROM tenants_participation p
JOIN tenants_organisation o ON o.id = p.organisation WHERE p.consortium = $1 ORDER BY o.name
"""
MEMBERS = """
SELECT u.full_name, o.name AS organisation_name, m.role, m.may_sign FROM tenants_membership m
JOIN auth_user u ON u.id = m."user" JOIN tenants_organisation o ON o.id = m.organisation
WHERE m.consortium = $1 AND m.is_active ORDER BY o.name, u.full_name
"""

pool: Any = None


async def home(request: Request) -> Response:
    token = request.cookies.get("portal_session", "")
    digest = hashlib.sha256(token.encode()).hexdigest()
    async with pool.acquire() as conn:
        tenant = await conn.fetchrow(TENANT, digest, request.path_params["slug"])
        if tenant is None:
            return RedirectResponse("/login", status_code=303)
        context = {
            "tenant": tenant,
            "nav": NAV,
            "consortia": await conn.fetch(CONSORTIA, tenant["user_id"]),
            "unread": await conn.fetchval(UNREAD, tenant["user_id"]),
            "organisations": await conn.fetch(ORGANISATIONS, tenant["id"]),
            "members": await conn.fetch(MEMBERS, tenant["id"]),
        }
    return HTMLResponse(PAGE.render(context))


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    global pool
    pool = await asyncpg.create_pool(os.environ["PORTAL_DATABASE_URL"], max_size=10)
    yield
    await pool.close()


app = Starlette(routes=[Route("/c/{slug}/", home)], lifespan=lifespan)
