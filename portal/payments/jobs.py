"""Job contracts of the payments domain (handlers in `workers/payments.py`)."""

from __future__ import annotations

import uuid

from portal.core.tenancy import TenantScope
from portal.jobs import service as jobs

EXPORT = "payments.export"


async def enqueue_export(scope: TenantScope, export_id: uuid.UUID) -> uuid.UUID | None:
    """Inside the transaction that records the export: it runs after commit."""
    return await jobs.enqueue(
        EXPORT,
        {"consortium_id": str(scope.consortium_id), "export_id": str(export_id)},
        consortium_id=scope.consortium_id,
        dedup_key=f"payments:export:{export_id}",
    )
