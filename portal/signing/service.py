"""What other domains may ask of the signing domain."""

from __future__ import annotations

import uuid

from portal.core.tenancy import TenantScope
from portal.signing import repository
from portal.signing.enums import RequestStatus
from portal.signing.repository import Row


async def active_request(scope: TenantScope, convention_id: uuid.UUID) -> Row | None:
    """The request signers are still invited to, if any (at most one per convention)."""
    for row in await repository.requests_of(scope, convention_id):
        if row["status"] == RequestStatus.ACTIVE:
            return row
    return None
