import uuid
from typing import Any

from portal.core.tenancy import TenantScope
from portal.tenants import service


async def send_invitation(payload: dict[str, Any]) -> None:
    scope = TenantScope.for_job(uuid.UUID(payload["consortium_id"]))
    await service.send_invitation_email(scope, uuid.UUID(payload["invitation_id"]))
