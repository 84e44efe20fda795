"""Job contracts of the auth domain (handlers in `workers/auth.py`)."""

from __future__ import annotations

import uuid

from portal.jobs import service as jobs

SEND_PASSWORD_RESET = "auth.send_password_reset"


async def enqueue_password_reset_email(token_id: uuid.UUID) -> None:
    await jobs.enqueue(SEND_PASSWORD_RESET, {"token_id": str(token_id)})
