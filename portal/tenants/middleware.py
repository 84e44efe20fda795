"""The middleware that builds the tenant context for everything mounted at `/c/{slug}/`.

This is the one place where membership is checked: anonymous visitors are sent to the login page
whatever the slug (no database lookup, so no hint), and a signed-in person who is not an active
member gets the same 404 as for a consortium that does not exist. A member's request then runs
in the consortium's scope (`portal.core.scope`): PostgreSQL shows it that consortium's rows only.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from portal.auth.service import CurrentUser
from portal.core.scope import consortium_scope
from portal.tenants.service import resolve_tenant


class TenantMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        user: CurrentUser | None = scope["state"].get("user")
        if user is None:
            # Under a Mount, Starlette keeps the full path in scope["path"].
            response = RedirectResponse(f"/login?next={quote(scope['path'])}", status_code=303)
            await response(scope, receive, send)
            return
        slug = scope["path_params"].get("slug", "")
        tenant = await resolve_tenant(slug, user.id)
        if tenant is None:
            raise HTTPException(404)
        if tenant.second_factor_required and not user.has_second_factor:
            # Enrol first, then come back; the enrolment page lives outside the space.
            response = RedirectResponse(
                f"/compte/securite?next={quote(scope['path'])}", status_code=303
            )
            await response(scope, receive, send)
            return
        scope["state"]["tenant"] = tenant
        async with consortium_scope(tenant.consortium_id):
            await self.app(scope, receive, send)
