"""Queries on reminder policies and the reminders already sent (tenant-scoped)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from piccolo.query.mixins import OnConflictAction

from portal.core import scoped
from portal.core.tenancy import TenantScope
from portal.reminders.tables import ReminderPolicy, ReminderSent

Row = dict[str, Any]


async def policy(scope: TenantScope) -> Row | None:
    row: Row | None = await scoped.select(scope, ReminderPolicy).first()
    return row


async def save_policy(scope: TenantScope, values: dict[str, Any], now: dt.datetime) -> None:
    columns = {getattr(ReminderPolicy, k): v for k, v in values.items()}
    await scoped.insert(scope, ReminderPolicy, {**values, "updated_at": now}).on_conflict(
        target=ReminderPolicy.consortium,
        action=OnConflictAction.do_update,
        values=[*columns, ReminderPolicy.updated_at],
    )


async def record_sent(
    scope: TenantScope, subject: str, recipient: uuid.UUID, step: str, now: dt.datetime
) -> bool:
    """True when this reminder had not been sent: the caller sends it, in the same transaction."""
    rows = (
        await scoped.insert(
            scope,
            ReminderSent,
            {"subject": subject, "recipient": recipient, "step": step, "sent_at": now},
        )
        .on_conflict(action=OnConflictAction.do_nothing)
        .returning(ReminderSent.id)
    )
    return bool(rows)


async def sent_for(scope: TenantScope, subject: str) -> list[Row]:
    rows: list[Row] = (
        await scoped.select(scope, ReminderSent)
        .where(ReminderSent.subject == subject)
        .order_by(ReminderSent.sent_at)
    )
    return rows
