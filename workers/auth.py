import uuid
from typing import Any

from portal.auth import service


async def send_password_reset(payload: dict[str, Any]) -> None:
    await service.send_password_reset_email(uuid.UUID(payload["token_id"]))
