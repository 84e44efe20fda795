"""Pages outside any consortium: the dashboard, the accessibility statement, the health check."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal.core import db
from portal.core.responses import see_other
from portal.core.templating import render
from portal.settings import get_settings


async def dashboard(request: Request) -> Response:
    if request.state.user is None:
        return see_other("/login")
    return await render(request, "dashboard.html")


async def accessibility(request: Request) -> Response:
    return await render(request, "accessibility.html")


async def healthz(request: Request) -> Response:
    settings = get_settings()
    checks: dict[str, dict[str, object]] = {}
    try:
        await db.engine().run_ddl("SELECT 1")
        checks["database"] = {"state": "ok", "engine": db.engine().engine_type}
    except Exception as exc:  # any failure is reported, not raised
        checks["database"] = {"state": "error", "error": type(exc).__name__}
    checks["mail"] = {
        "state": "ok",
        "transport": "smtp" if settings.smtp_url else f"files:{settings.mail_dir.name}",
    }
    healthy = all(c["state"] == "ok" for c in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status_code=200 if healthy else 503,
    )


routes = [
    Route("/", dashboard, methods=["GET"], name="dashboard"),
    Route("/accessibilite", accessibility, methods=["GET"], name="accessibility"),
    Route("/healthz", healthz, methods=["GET"], name="healthz"),
]
