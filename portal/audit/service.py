"""Recording audit events, in the same transaction as the change they describe."""

from __future__ import annotations

import uuid
from typing import Any

from portal.audit import repository
from portal.audit.enums import AuditTag
from portal.core.actor import Actor
from portal.core.tenancy import TenantScope


async def record(
    tag: AuditTag,
    actor: Actor,
    *,
    consortium_id: uuid.UUID | None = None,
    subject: str = "",
    **details: Any,
) -> None:
    # The table has no user-agent column: the signing events keep it, where it is evidence.
    await repository.insert(
        tag=tag.value,
        actor_id=actor.user_id,
        actor_email=actor.email,
        consortium_id=consortium_id,
        subject=subject,
        ip=actor.ip,
        details=details,
    )


async def record_action(
    tag: AuditTag,
    actor: Actor,
    scope: TenantScope,
    subject: str = "",
    **details: Any,
) -> None:
    """An action on a consortium."""
    await record(tag, actor, consortium_id=scope.consortium_id, subject=subject, **details)


async def tenant_events(ctx: TenantScope) -> list[dict[str, Any]]:
    return await repository.list_for_tenant(ctx)


async def subject_events(ctx: TenantScope, subject: str) -> list[dict[str, Any]]:
    return await repository.list_for_subject(ctx, subject)
