"""Audit events are only ever inserted and read: there is no update or delete here."""

from __future__ import annotations

import uuid
from typing import Any

from portal.audit.tables import AuditEvent
from portal.core.tenancy import TenantScope


async def insert(
    *,
    tag: str,
    actor_id: uuid.UUID | None,
    actor_email: str,
    consortium_id: uuid.UUID | None,
    subject: str,
    ip: str,
    details: dict[str, Any],
) -> None:
    await AuditEvent.insert(
        AuditEvent(
            tag=tag,
            actor_id=actor_id,
            actor_email=actor_email,
            consortium_id=consortium_id,
            subject=subject,
            ip=ip,
            details=details,
        )
    )


async def list_for_tenant(ctx: TenantScope, limit: int = 200) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await AuditEvent.select()
        .where(AuditEvent.consortium_id == ctx.consortium_id)
        .order_by(AuditEvent.at, ascending=False)
        .limit(limit)
    )
    return rows


async def list_by_tag(tag: str, limit: int = 200) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await AuditEvent.select()
        .where(AuditEvent.tag == tag)
        .order_by(AuditEvent.at, ascending=False)
        .limit(limit)
    )
    return rows


async def list_for_subject(
    ctx: TenantScope, subject: str, limit: int = 500
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await AuditEvent.select()
        .where((AuditEvent.consortium_id == ctx.consortium_id) & (AuditEvent.subject == subject))
        .order_by(AuditEvent.at, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )
    return rows
