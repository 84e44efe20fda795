import datetime as dt
import uuid
from typing import Any

from portal.notifications import service


async def send_email(payload: dict[str, Any]) -> None:
    await service.send_email(uuid.UUID(payload["notification_id"]))


async def send_digest(payload: dict[str, Any]) -> None:
    await service.send_digest(uuid.UUID(payload["user_id"]), dt.date.fromisoformat(payload["day"]))
