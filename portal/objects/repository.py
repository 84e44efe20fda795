"""Queries on the ledger. Every change of state is one conditional statement, so a sweep and a
request racing on the same key never both win (on PostgreSQL the conditional DELETE waits for
the row lock of a transaction that confirmed the key, then sees it committed)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

from portal.core.db import stream
from portal.objects.enums import ObjectState
from portal.objects.tables import StoredObject

Row = dict[str, Any]


async def insert_intent(
    key: str, owner: str, consortium_id: uuid.UUID | None, size: int, now: dt.datetime
) -> None:
    """A key stored again while still pending (a job's retry) starts its grace again."""
    await StoredObject.insert(
        StoredObject(
            key=key,
            owner=owner,
            consortium_id=consortium_id,
            state=ObjectState.PENDING,
            size=size,
            created_at=now,
        )
    ).on_conflict(
        target=StoredObject.key,
        action="DO UPDATE",
        values=[StoredObject.created_at, StoredObject.size],
        where=StoredObject.state == ObjectState.PENDING,
    )


async def confirm(key: str, now: dt.datetime) -> bool:
    rows = (
        await StoredObject.update(
            {StoredObject.state: ObjectState.COMMITTED, StoredObject.confirmed_at: now}
        )
        .where(
            (StoredObject.key == key)
            & StoredObject.state.is_in([ObjectState.PENDING, ObjectState.COMMITTED])
        )
        .returning(StoredObject.key)
    )
    return bool(rows)


async def abandon(key: str, before: dt.datetime | None = None) -> bool:
    """Removes a still-pending entry (recorded before `before`, when given); False when a
    committed row points at the key, or the entry is gone or younger."""
    condition = (StoredObject.key == key) & (StoredObject.state == ObjectState.PENDING)
    if before is not None:
        condition &= StoredObject.created_at < before
    rows = await StoredObject.delete().where(condition).returning(StoredObject.key)
    return bool(rows)


async def state(key: str) -> ObjectState | None:
    row = await StoredObject.select(StoredObject.state).where(StoredObject.key == key).first()
    return ObjectState(row["state"]) if row else None


async def forget(key: str) -> None:
    await StoredObject.delete().where(StoredObject.key == key)


async def pending_before(before: dt.datetime, limit: int = 1000) -> list[str]:
    rows = (
        await StoredObject.select(StoredObject.key)
        .where((StoredObject.state == ObjectState.PENDING) & (StoredObject.created_at < before))
        .limit(limit)
    )
    return [r["key"] for r in rows]


async def known(keys: list[str]) -> set[str]:
    if not keys:
        return set()
    rows = await StoredObject.select(StoredObject.key).where(StoredObject.key.is_in(keys))
    return {r["key"] for r in rows}


async def kept(before: dt.datetime) -> AsyncIterator[list[Row]]:
    """Committed or missing entries confirmed before `before`, in batches."""
    query = StoredObject.select(StoredObject.key, StoredObject.state, StoredObject.owner).where(
        StoredObject.state.is_in([ObjectState.COMMITTED, ObjectState.MISSING])
        & (StoredObject.confirmed_at < before)
    )
    async for batch in stream(query, 1000):
        yield batch


async def mark_missing(key: str, now: dt.datetime) -> Row | None:
    rows: list[Row] = (
        await StoredObject.update(
            {StoredObject.state: ObjectState.MISSING, StoredObject.missing_since: now}
        )
        .where((StoredObject.key == key) & (StoredObject.state == ObjectState.COMMITTED))
        .returning(*StoredObject.all_columns())
    )
    return rows[0] if rows else None


async def mark_found(key: str) -> None:
    await StoredObject.update(
        {StoredObject.state: ObjectState.COMMITTED, StoredObject.missing_since: None}
    ).where((StoredObject.key == key) & (StoredObject.state == ObjectState.MISSING))


async def missing_keys(owner: str) -> list[str]:
    rows = await StoredObject.select(StoredObject.key).where(
        (StoredObject.state == ObjectState.MISSING) & (StoredObject.owner == owner)
    )
    return [r["key"] for r in rows]


async def missing(limit: int = 500) -> list[Row]:
    rows: list[Row] = (
        await StoredObject.select()
        .where(StoredObject.state == ObjectState.MISSING)
        .order_by(StoredObject.missing_since, ascending=False)
        .limit(limit)
    )
    return rows


async def missing_count() -> int:
    count: int = await StoredObject.count().where(StoredObject.state == ObjectState.MISSING)
    return count
