"""Pages outside any consortium: the dashboard, the accessibility statement, the health check."""

from __future__ import annotations

import redis.asyncio as redis
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal.core import db
from portal.core.responses import see_other
from portal.core.templating import render
from portal.jobs import service as job_service
from portal.settings import get_settings


async def dashboard(request: Request) -> Response:
    if request.state.user is None:
        return see_other("/login")
    return await render(request, "dashboard.html")


async def accessibility(request: Request) -> Response:
    return await render(request, "accessibility.html")


STALE_BACKLOG_SECONDS = 600


async def _redis_state(url: str) -> str:
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
        return "ok"
    except (RedisError, OSError):
        return "unreachable"
    finally:
        await client.aclose()


async def healthz(request: Request) -> Response:
    """200 while the database answers: without Redis the web still works (jobs wait in the
    outbox), so a Redis outage or a late backlog is reported as "degraded", not as down."""
    settings = get_settings()
    checks: dict[str, dict[str, object]] = {}
    try:
        await db.engine().run_ddl("SELECT 1")
        checks["database"] = {"state": "ok", "engine": db.engine().engine_type}
    except Exception as exc:  # any failure is reported, not raised
        checks["database"] = {"state": "error", "error": type(exc).__name__}
        return JSONResponse({"status": "error", "checks": checks}, status_code=503)
    checks["mail"] = {
        "state": "ok",
        "transport": "smtp" if settings.smtp_url else f"files:{settings.mail_dir.name}",
    }
    backlog, oldest = await job_service.backlog()
    queue: dict[str, object] = {
        "mode": "redis" if settings.redis_url else "in-process",
        "backlog": backlog,
        "oldest_pending_seconds": round(oldest) if oldest is not None else None,
    }
    if settings.redis_url:
        queue["redis"] = await _redis_state(settings.redis_url)
    late = oldest is not None and oldest > STALE_BACKLOG_SECONDS
    queue["state"] = "degraded" if late or queue.get("redis") == "unreachable" else "ok"
    checks["queue"] = queue
    healthy = all(c["state"] == "ok" for c in checks.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "checks": checks})


routes = [
    Route("/", dashboard, methods=["GET"], name="dashboard"),
    Route("/accessibilite", accessibility, methods=["GET"], name="accessibility"),
    Route("/healthz", healthz, methods=["GET"], name="healthz"),
]
