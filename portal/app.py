"""The ASGI application: routes, middleware and error pages."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from portal import pages
from portal.admin import routes as admin_routes
from portal.auth import routes as auth_routes
from portal.auth.middleware import SessionMiddleware
from portal.core import db, errors
from portal.core.csrf import CsrfMiddleware
from portal.core.headers import SecurityHeadersMiddleware
from portal.core.tenancy import TenantMiddleware
from portal.settings import get_settings
from portal.tenants import routes as tenant_routes

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    await db.start()
    try:
        yield
    finally:
        await db.stop()


def create_app() -> ASGIApp:
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = Starlette(
        debug=False,
        routes=[
            *pages.routes,
            *auth_routes.routes,
            *tenant_routes.public_routes,
            *admin_routes.routes,
            # Everything of a consortium lives here, behind the one membership check.
            Mount(
                "/c/{slug}",
                routes=tenant_routes.routes,
                middleware=[Middleware(TenantMiddleware)],
            ),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[
            Middleware(SessionMiddleware),
            Middleware(CsrfMiddleware, secret=settings.secret_key, secure=settings.https),
        ],
        exception_handlers={HTTPException: errors.http_exception, Exception: errors.server_error},
        lifespan=lifespan,
    )
    return SecurityHeadersMiddleware(app, hsts=settings.https)
