import uuid
from typing import Any

from portal.core.tenancy import TenantScope
from portal.signing import apply, mails


async def send_mail(payload: dict[str, Any]) -> None:
    scope = TenantScope.for_job(uuid.UUID(payload["consortium_id"]))
    await mails.send(
        scope, uuid.UUID(payload["participant_id"]), payload["kind"], payload.get("key", "")
    )


async def apply_signatures(payload: dict[str, Any]) -> None:
    scope = TenantScope.for_job(uuid.UUID(payload["consortium_id"]))
    await apply.run(scope, uuid.UUID(payload["request_id"]))
