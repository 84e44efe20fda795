"""Queries on requested documents, their items and versions (tenant-scoped)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from piccolo.query.mixins import OnConflictAction

from portal.core import scoped
from portal.core.db import locked
from portal.core.prepared import prepared
from portal.core.scoped import unscoped
from portal.core.tenancy import TenantScope
from portal.core.visibility import NOTHING, Reach, within
from portal.documents.tables import DocumentItem, DocumentRequest, DocumentVersion

Row = dict[str, Any]


@dataclass(frozen=True)
class Sight:
    """The items a member sees: all, or those its organisation must provide, those its
    organisation asked for and those asked for under a convention it reaches."""

    everything: bool
    organisation: uuid.UUID | None = None
    conventions: Reach = NOTHING


ALL = Sight(everything=True)


def _seen(view: Sight) -> Any:
    if view.everything:
        return None
    clause: Any = (DocumentItem.organisation == view.organisation) | (
        DocumentItem.request.requested_by_organisation == view.organisation
    )
    if view.conventions.any:
        clause = clause | within(view.conventions, DocumentItem.request.convention)
    return clause


async def insert_request(
    scope: TenantScope, values: dict[str, Any], created_by: uuid.UUID
) -> uuid.UUID:
    return await scoped.add(scope, DocumentRequest, {**values, "created_by": created_by})


async def recurring_requests(scope: TenantScope) -> list[Row]:
    rows: list[Row] = await scoped.select(scope, DocumentRequest).where(
        DocumentRequest.recurrence != "once"
    )
    return rows


async def insert_item(scope: TenantScope, values: dict[str, Any]) -> bool:
    """False when the item for this request and period exists already."""
    rows = (
        await scoped.insert(scope, DocumentItem, values)
        .on_conflict(action=OnConflictAction.do_nothing)
        .returning(DocumentItem.id)
    )
    return bool(rows)


_ITEM_COLUMNS = (
    *DocumentItem.all_columns(),
    DocumentItem.request.title.as_alias("title"),
    DocumentItem.request.description.as_alias("description"),
    DocumentItem.request.recurrence.as_alias("recurrence"),
    DocumentItem.request.convention.as_alias("convention"),
    DocumentItem.request.requested_by_organisation.as_alias("requested_by_organisation"),
    DocumentItem.organisation.name.as_alias("organisation_name"),
)


def _items_query(scope: TenantScope, organisation_id: uuid.UUID | None, view: Sight) -> Any:
    query = scoped.select(scope, DocumentItem, *_ITEM_COLUMNS)
    if organisation_id is not None:
        query = query.where(DocumentItem.organisation == organisation_id)
    if (seen := _seen(view)) is not None:
        query = query.where(seen)
    return query.order_by(DocumentItem.organisation.name).order_by(DocumentItem.due_on)


# Every item a member sees, on the documents page and behind each payments page: built once
# (`core/prepared.py`) for the sights whose clause has one shape (all, or one organisation's
# with no convention reached); the State's agents' each time.
_EVERY_ITEM = prepared(lambda p: _items_query(p.scope, None, ALL))
_ITEMS_OF_ORGANISATION = prepared(
    lambda p: _items_query(p.scope, None, Sight(everything=False, organisation=p.organisation))
)


async def items(
    scope: TenantScope, organisation_id: uuid.UUID | None = None, view: Sight = ALL
) -> list[Row]:
    rows: list[Row]
    if organisation_id is not None or view.conventions.any:
        rows = await _items_query(scope, organisation_id, view)
    elif view.everything:
        rows = await _EVERY_ITEM(scope=scope)
    else:
        rows = await _ITEMS_OF_ORGANISATION(scope=scope, organisation=view.organisation)
    return rows


async def item(scope: TenantScope, item_id: uuid.UUID, view: Sight = ALL) -> Row | None:
    query = scoped.select(scope, DocumentItem, *_ITEM_COLUMNS).where(DocumentItem.id == item_id)
    if (seen := _seen(view)) is not None:
        query = query.where(seen)
    row: Row | None = await query.first()
    return row


async def tie_request(scope: TenantScope, item_id: uuid.UUID, convention_id: uuid.UUID) -> None:
    """The item's request is asked for under `convention_id`, unless it names one already."""
    row = (
        await scoped.select(scope, DocumentItem, DocumentItem.request)
        .where(DocumentItem.id == item_id)
        .first()
    )
    if row is None:
        return
    await scoped.update(scope, DocumentRequest, {DocumentRequest.convention: convention_id}).where(
        (DocumentRequest.id == row["request"]) & DocumentRequest.convention.is_null()
    )


async def update_item(scope: TenantScope, item_id: uuid.UUID, **values: Any) -> None:
    await scoped.update(scope, DocumentItem, values).where(DocumentItem.id == item_id)


async def open_items(scope: TenantScope) -> list[Row]:
    rows: list[Row] = await scoped.select(scope, DocumentItem, *_ITEM_COLUMNS).where(
        DocumentItem.status.is_in(["expected", "to_complete"])
    )
    return rows


async def versions(scope: TenantScope, item_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = (
        await scoped.select(scope, DocumentVersion)
        .where((DocumentVersion.item == item_id) & DocumentVersion.deleted_at.is_null())
        .order_by(DocumentVersion.number, ascending=False)
    )
    return rows


async def version(scope: TenantScope, item_id: uuid.UUID, version_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, DocumentVersion)
        .where(
            (DocumentVersion.item == item_id)
            & (DocumentVersion.id == version_id)
            & DocumentVersion.deleted_at.is_null()
        )
        .first()
    )
    return row


def locked_item(scope: TenantScope, item_id: uuid.UUID) -> Any:
    """A transaction holding the item's row (see `portal.core.db.locked`)."""
    return locked(
        scoped.select(scope, DocumentItem, DocumentItem.id).where(DocumentItem.id == item_id)
    )


async def next_number(scope: TenantScope, item_id: uuid.UUID) -> int:
    row = (
        await scoped.select(scope, DocumentVersion, DocumentVersion.number)
        .where(DocumentVersion.item == item_id)
        .order_by(DocumentVersion.number, ascending=False)
        .first()
    )
    return (row["number"] if row else 0) + 1


async def insert_version(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, DocumentVersion, values)


async def soft_delete(
    scope: TenantScope, version_id: uuid.UUID, now: dt.datetime, purge_after: dt.datetime
) -> bool:
    values = {DocumentVersion.deleted_at: now, DocumentVersion.purge_after: purge_after}
    rows = (
        await scoped.update(scope, DocumentVersion, values)
        .where((DocumentVersion.id == version_id) & DocumentVersion.deleted_at.is_null())
        .returning(DocumentVersion.id)
    )
    return bool(rows)


# Housekeeping across consortia (storage keys carry the consortium prefix) ------------------


@unscoped("the sweep of objects, across consortia: storage keys are global")
async def versions_with_keys(keys: list[str]) -> list[Row]:
    """Versions still shown whose object is under one of these keys."""
    if not keys:
        return []
    rows: list[Row] = await DocumentVersion.select().where(
        DocumentVersion.storage_key.is_in(keys) & DocumentVersion.deleted_at.is_null()
    )
    return rows


@unscoped("the purge of deleted files, a housekeeping scan of every consortium")
async def due_for_purge(now: dt.datetime) -> list[Row]:
    rows: list[Row] = await DocumentVersion.select(
        DocumentVersion.id, DocumentVersion.storage_key
    ).where((DocumentVersion.purge_after < now) & DocumentVersion.purged_at.is_null())
    return rows


@unscoped("the purge of deleted files, a housekeeping scan of every consortium")
async def mark_purged(version_id: uuid.UUID, now: dt.datetime) -> None:
    await DocumentVersion.update({DocumentVersion.purged_at: now}).where(
        DocumentVersion.id == version_id
    )
