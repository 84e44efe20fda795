"""Piccolo's configuration: the engine chosen from `PORTAL_DATABASE_URL` and every domain app."""

from __future__ import annotations

from pathlib import Path

from piccolo.conf.apps import AppRegistry
from piccolo.engine.base import Engine

from portal.core.pg import HeldPostgresEngine
from portal.core.sqlite import PooledSQLiteEngine
from portal.settings import get_settings


def engine_for(url: str) -> Engine:  # type: ignore[type-arg]
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        # A generous busy timeout: web requests and jobs share one SQLite file.
        return PooledSQLiteEngine(path=str(path), timeout=30)
    if url.startswith(("postgres://", "postgresql://")):
        return HeldPostgresEngine(config={"dsn": url})
    raise ValueError("PORTAL_DATABASE_URL commence par sqlite:/// ou postgresql://")


DB = engine_for(get_settings().database_url)

APP_REGISTRY = AppRegistry(
    apps=[
        "portal.auth.piccolo_app",
        "portal.tenants.piccolo_app",
        "portal.audit.piccolo_app",
        "portal.jobs.piccolo_app",
        "portal.notifications.piccolo_app",
        "portal.deadlines.piccolo_app",
        "portal.reminders.piccolo_app",
        "portal.documents.piccolo_app",
        "portal.conventions.piccolo_app",
        "portal.signing.piccolo_app",
        "portal.payments.piccolo_app",
        "portal.households.piccolo_app",
        "portal.objects.piccolo_app",
        "portal.rls.piccolo_app",
    ]
)
