"""Job contracts of the signing domain (handlers in `workers/signing.py`)."""

from __future__ import annotations

import datetime as dt
import uuid

from portal.core.tenancy import TenantScope
from portal.jobs import service as jobs

SEND_MAIL = "signing.send_mail"
APPLY = "signing.apply"


async def enqueue_mail(
    scope: TenantScope,
    participant_id: uuid.UUID,
    kind: str,
    key: str | None = None,
    run_after: dt.datetime | None = None,
) -> None:
    """E-mails to participants go through the job layer, once per `key`."""
    await jobs.enqueue(
        SEND_MAIL,
        {
            "consortium_id": str(scope.consortium_id),
            "participant_id": str(participant_id),
            "kind": kind,
            "key": key or "",
        },
        consortium_id=scope.consortium_id,
        run_after=run_after,
        dedup_key=f"signing:{kind}:{participant_id}:{key or ''}",
    )


async def enqueue_apply(scope: TenantScope, request_id: uuid.UUID, key: str | None = None) -> None:
    await jobs.enqueue(
        APPLY,
        {"consortium_id": str(scope.consortium_id), "request_id": str(request_id)},
        consortium_id=scope.consortium_id,
        dedup_key=f"signing:apply:{request_id}:{key}" if key else None,
        # A time-stamping authority may be down for hours: keep trying, never sign without it.
        max_attempts=200,
    )
