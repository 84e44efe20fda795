"""The pages about one convention, this domain's and the signing's: `on_convention` opens the
convention of the path before the endpoint runs. An HTTP concern, so not in the service (which
takes no request); other domains' route modules may import it (tests/test_layers.py, rule 1)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from portal.conventions.service import Opened, open_convention
from portal.core.permissions import Endpoint, Permission, allows
from portal.core.responses import path_uuid


def on_convention(permission: Permission) -> Callable[[Endpoint], Endpoint]:
    """The convention of the path, visible to this member or 404 (so a hidden convention looks
    exactly like a missing one, whatever the route), then the role's permission (403), then
    the endpoint with the convention in `request.state.convention`."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapper(request: Request) -> Response:
            opened = await open_convention(
                request.state.tenant, path_uuid(request, "convention_id")
            )
            if opened is None:
                raise HTTPException(404)
            if not allows(request.state.tenant.role, permission):
                raise HTTPException(403)
            request.state.convention = opened
            try:
                return await endpoint(request)
            except LookupError as exc:
                raise HTTPException(404) from exc
            except PermissionError as exc:
                raise HTTPException(403) from exc

        wrapper.permission = permission  # type: ignore[attr-defined]
        wrapper.loads_convention = True  # type: ignore[attr-defined]
        return wrapper

    return decorate


def opened_for(request: Request) -> Opened:
    """The convention `on_convention` opened for this request."""
    opened: Opened = request.state.convention
    return opened
