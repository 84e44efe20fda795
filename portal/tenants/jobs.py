"""Job contracts of the tenants domain (handlers in `workers/tenants.py`)."""

from __future__ import annotations

import uuid

from portal.core.tenancy import TenantScope
from portal.jobs import service as jobs

SEND_INVITATION = "tenants.send_invitation"


async def enqueue_invitation_email(scope: TenantScope, invitation_id: uuid.UUID) -> None:
    await jobs.enqueue(
        SEND_INVITATION,
        {"consortium_id": str(scope.consortium_id), "invitation_id": str(invitation_id)},
        consortium_id=scope.consortium_id,
    )
