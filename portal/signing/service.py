"""What other domains, and the pages outside the ceremony, ask of the signing domain."""

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


async def awaiting(scope: TenantScope, user_id: uuid.UUID, email: str) -> list[Row]:
    """Participants of active requests whose turn it is, for this account (its home page)."""
    return await repository.awaiting(scope, user_id, email)


async def participant(scope: TenantScope, participant_id: uuid.UUID) -> Row | None:
    return await repository.participant(scope, participant_id)
