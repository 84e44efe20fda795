"""The ASGI application: routes, middleware and error pages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

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
from portal.conventions import routes as convention_routes
from portal.core import db, errors
from portal.core.csrf import CsrfMiddleware
from portal.core.headers import SecurityHeadersMiddleware
from portal.core.storage import get_storage
from portal.core.tenancy import TenantMiddleware
from portal.deadlines import routes as deadline_routes
from portal.documents import routes as document_routes
from portal.notifications import routes as notification_routes
from portal.payments import routes as payment_routes
from portal.settings import get_settings
from portal.signing import routes as signing_routes
from portal.tenants import routes as tenant_routes

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"


Background = Callable[[], Coroutine[Any, Any, None]]


def lifespan_with(background: Background | None) -> Callable[[Starlette], Any]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await db.start()
        await get_storage().ensure_ready()
        task = asyncio.create_task(background()) if background else None
        try:
            yield
        finally:
            if task:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await db.stop()

    return lifespan


def create_app(background: Background | None = None) -> ASGIApp:
    """`background` runs beside the web process (the outbox relay or the in-process jobs:
    see `workers/web.py`, which `portal serve` uses)."""
    settings = get_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = Starlette(
        debug=False,
        routes=[
            *pages.routes,
            *auth_routes.routes,
            *notification_routes.routes,
            *tenant_routes.public_routes,
            *signing_routes.public_routes,
            *admin_routes.routes,
            # Everything of a consortium lives here, behind the one membership check.
            Mount(
                "/c/{slug}",
                routes=[
                    *tenant_routes.routes,
                    *deadline_routes.routes,
                    *document_routes.routes,
                    *convention_routes.routes,
                    *signing_routes.routes,
                    *payment_routes.routes,
                ],
                middleware=[Middleware(TenantMiddleware)],
            ),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[
            Middleware(SessionMiddleware),
            Middleware(
                CsrfMiddleware,
                secret=settings.secret_key,
                secure=settings.https,
                exempt_prefixes=("/desabonnement/",),
            ),
        ],
        exception_handlers={HTTPException: errors.http_exception, Exception: errors.server_error},
        lifespan=lifespan_with(background),
    )
    return SecurityHeadersMiddleware(app, hsts=settings.https)
