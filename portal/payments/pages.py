"""What every payments page shares: where the pages live and the permission test templates
use."""

from __future__ import annotations

from starlette.requests import Request

from portal.core.permissions import Permission, allows


def base(request: Request) -> str:
    return f"/c/{request.state.tenant.slug}/versements"


def can(request: Request):  # type: ignore[no-untyped-def]
    role = request.state.tenant.role
    return lambda p: allows(role, Permission(p))
