"""The ASGI application: routes, middleware and error pages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import anyio.to_thread
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from portal import pages
from portal.admin import routes as admin_routes
from portal.auth import routes as auth_routes
from portal.auth import second_factor_routes
from portal.auth.middleware import SessionMiddleware
from portal.conventions import routes as convention_routes
from portal.core import clock, db, errors, logs, spool, templating
from portal.core.csrf import CsrfMiddleware
from portal.core.forms import FieldError
from portal.core.headers import SecurityHeadersMiddleware
from portal.core.pg import HeldConnection
from portal.core.scope import unscoped
from portal.core.storage import StorageError, get_storage
from portal.deadlines import routes as deadline_routes
from portal.documents import routes as document_routes
from portal.households import routes as household_routes
from portal.notifications import routes as notification_routes
from portal.notifications import service as notifications
from portal.payments import routes as payment_routes
from portal.settings import get_settings
from portal.signing import routes as signing_routes
from portal.tenants import routes as tenant_routes
from portal.tenants import service as tenants
from portal.tenants.middleware import TenantMiddleware

STATIC_DIR = Path(__file__).resolve().parents[1] / "static"
log = logging.getLogger("portal.app")


Background = Callable[[], Coroutine[Any, Any, None]]


SPOOL_SWEEP_EVERY = 600.0  # seconds


async def _storage_ready() -> None:
    """Storage may be down when the process starts: pages that do not need it work meanwhile,
    and the bucket is created as soon as it answers."""
    delay = 1.0
    warned = False
    while True:
        try:
            await get_storage().ensure_ready()
            if warned:
                log.info("Stockage des documents revenu : prêt")
            return
        except StorageError as exc:
            if not warned:
                log.warning("Stockage des documents injoignable au démarrage : %s", exc)
                warned = True
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def _sweep_spool() -> None:
    """Files left in this host's spool by killed processes: at start-up, then regularly."""
    while True:
        try:
            await anyio.to_thread.run_sync(lambda: spool.sweep(clock.now()))
        except Exception:  # housekeeping must never stop the web process
            log.exception("Nettoyage de l'espace de travail interrompu")
        await asyncio.sleep(SPOOL_SWEEP_EVERY)


class Unscoped:
    """Every request and the lifespan's background loops start with no scope (see
    `portal.core.scope`), whatever the context of the code that runs the app: a test's client
    runs it in the test's own task."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async with unscoped():
            await self.app(scope, receive, send)


def lifespan_with(background: Background | None) -> Callable[[Starlette], Any]:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await db.start()
        tasks = [asyncio.create_task(_storage_ready()), asyncio.create_task(_sweep_spool())]
        if background:
            tasks.append(asyncio.create_task(background()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await db.stop()

    return lifespan


async def layout_data(user: Any) -> dict[str, Any]:
    """What every page's layout shows of the signed-in person: the consortium switcher and the
    unread notifications (core's templating knows no domain: the app gives it this)."""
    return {
        "my_consortia": await tenants.consortia_for_switcher(user.id),
        "unread_notifications": await notifications.unread_count(user.id),
    }


def create_app(background: Background | None = None) -> ASGIApp:
    """`background` runs beside the web process (the outbox relay or the in-process jobs:
    see `workers/web.py`, which `portal serve` uses)."""
    settings = get_settings()
    logs.configure(settings.log_level)
    templating.provide_layout(layout_data)
    app = Starlette(
        debug=False,
        routes=[
            *pages.routes,
            *auth_routes.routes,
            *second_factor_routes.routes,
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
                    *household_routes.routes,
                ],
                middleware=[Middleware(TenantMiddleware)],
            ),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[
            Middleware(HeldConnection, engine=db.engine),
            Middleware(Unscoped),
            Middleware(errors.OutageMiddleware),
            Middleware(SessionMiddleware),
            Middleware(
                CsrfMiddleware,
                secret=settings.secret_key,
                exempt_prefixes=("/desabonnement/",),
            ),
        ],
        exception_handlers={
            HTTPException: errors.http_exception,
            FieldError: errors.field_error,
            Exception: errors.server_error,
        },
        lifespan=lifespan_with(background),
    )
    return SecurityHeadersMiddleware(app, hsts=settings.https)
