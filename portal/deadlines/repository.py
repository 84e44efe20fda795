"""Queries on a consortium's deadlines (tenant-scoped)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from portal.core import scoped
from portal.core.tenancy import TenantScope
from portal.deadlines.tables import Deadline

Row = dict[str, Any]

_COLUMNS = (
    Deadline.id,
    Deadline.title,
    Deadline.description,
    Deadline.due_on,
    Deadline.organisation,
    Deadline.organisation.name.as_alias("organisation_name"),
    Deadline.created_at,
    Deadline.done_at,
)


async def insert(scope: TenantScope, values: dict[str, Any], created_by: uuid.UUID) -> uuid.UUID:
    return await scoped.add(scope, Deadline, {**values, "created_by": created_by})


async def all_of(scope: TenantScope) -> list[Row]:
    rows: list[Row] = await scoped.select(scope, Deadline, *_COLUMNS).order_by(Deadline.due_on)
    return rows


async def open_ones(scope: TenantScope) -> list[Row]:
    rows: list[Row] = await scoped.select(scope, Deadline, *_COLUMNS).where(
        Deadline.done_at.is_null()
    )
    return rows


async def get(scope: TenantScope, deadline_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Deadline, *_COLUMNS).where(Deadline.id == deadline_id).first()
    )
    return row


async def mark_done(
    scope: TenantScope, deadline_id: uuid.UUID, by: uuid.UUID, now: dt.datetime
) -> bool:
    rows = (
        await scoped.update(scope, Deadline, {Deadline.done_at: now, Deadline.done_by: by})
        .where((Deadline.id == deadline_id) & Deadline.done_at.is_null())
        .returning(Deadline.id)
    )
    return bool(rows)
