"""Recording audit events, in the same transaction as the change they describe."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from starlette.requests import Request

from portal.audit import repository
from portal.audit.enums import AuditTag
from portal.core.tenancy import TenantScope


def client_ip(request: Request | None) -> str:
    if request is None or request.client is None:
        return ""
    return request.client.host


async def record(
    tag: AuditTag,
    *,
    request: Request | None = None,
    actor_id: uuid.UUID | None = None,
    actor_email: str = "",
    consortium_id: uuid.UUID | None = None,
    subject: str = "",
    **details: Any,
) -> None:
    await repository.insert(
        tag=tag.value,
        actor_id=actor_id,
        actor_email=actor_email,
        consortium_id=consortium_id,
        subject=subject,
        ip=client_ip(request),
        details=details,
    )


class Actor(Protocol):
    @property
    def id(self) -> uuid.UUID: ...

    @property
    def email(self) -> str: ...


async def record_action(
    tag: AuditTag,
    request: Request | None,
    actor: Actor,
    scope: TenantScope,
    subject: str = "",
    **details: Any,
) -> None:
    """An action by a signed-in person on a consortium."""
    await record(
        tag,
        request=request,
        actor_id=actor.id,
        actor_email=actor.email,
        consortium_id=scope.consortium_id,
        subject=subject,
        **details,
    )


async def tenant_events(ctx: TenantScope) -> list[dict[str, Any]]:
    return await repository.list_for_tenant(ctx)


async def subject_events(ctx: TenantScope, subject: str) -> list[dict[str, Any]]:
    return await repository.list_for_subject(ctx, subject)
