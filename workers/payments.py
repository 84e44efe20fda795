import uuid
from typing import Any

from portal.core.tenancy import TenantScope
from portal.payments import exports


async def export(payload: dict[str, Any]) -> None:
    scope = TenantScope.for_job(uuid.UUID(payload["consortium_id"]))
    await exports.run(scope, uuid.UUID(payload["export_id"]))
