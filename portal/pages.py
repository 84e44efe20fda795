"""Pages outside any consortium: the dashboard, the accessibility statement, the health check."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from portal import health
from portal.core.responses import see_other
from portal.core.templating import render


async def dashboard(request: Request) -> Response:
    if request.state.user is None:
        return see_other("/login")
    return await render(request, "dashboard.html")


async def accessibility(request: Request) -> Response:
    return await render(request, "accessibility.html")


async def healthz(request: Request) -> Response:
    """Each dependency's state and latency (see `portal.health`)."""
    status, body = await health.report()
    return JSONResponse(body, status_code=status, headers={"cache-control": "no-store"})


routes = [
    Route("/", dashboard, methods=["GET"], name="dashboard"),
    Route("/accessibilite", accessibility, methods=["GET"], name="accessibility"),
    Route("/healthz", healthz, methods=["GET"], name="healthz"),
]
