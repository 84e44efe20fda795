"""Queries on the households register (tenant-scoped). Sealed columns come out sealed: the
service opens them, and only for the parts the reader may see."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from piccolo.query.functions.aggregate import Count
from piccolo.query.mixins import OnConflictAction

from portal.core import scoped
from portal.core.tenancy import TenantScope
from portal.households.tables import (
    Alert,
    Consent,
    DataKey,
    Diagnostic,
    ErasedCount,
    Household,
    Identity,
    Note,
    Occupation,
    Procedure,
    Read,
    Section,
    Settings,
    Tombstone,
    Transition,
    Transmission,
)

Row = dict[str, Any]


# Data key --------------------------------------------------------------------------------------


async def data_key(scope: TenantScope) -> str | None:
    row: Row | None = await scoped.select(scope, DataKey, DataKey.wrapped).first()
    return row["wrapped"] if row else None


async def insert_data_key(scope: TenantScope, wrapped: str) -> None:
    await scoped.insert(scope, DataKey, {"wrapped": wrapped}).on_conflict(
        target=DataKey.consortium, action=OnConflictAction.do_nothing
    )


# Households ------------------------------------------------------------------------------------

HOUSEHOLD_COLUMNS = (
    Household.id,
    Household.pseudonym,
    Household.convention,
    Household.convention.reference.as_alias("convention_reference"),
    Household.convention.title.as_alias("convention_title"),
    Household.convention.subletting_renewals.as_alias("subletting_renewals"),
    Household.association,
    Household.association.name.as_alias("association_name"),
    Household.referent,
    Household.lessor,
    Household.lessor.name.as_alias("lessor_name"),
    Household.lessor_referent,
    Household.step,
    Household.step_on,
    Household.episode,
    Household.occupancy,
    Household.gla_since,
    Household.oriented_on,
    Household.exit_reason,
    Household.last_contact_at,
    Household.retention_warned_at,
    Household.legal_hold,
    Household.legal_hold_note,
    Household.created_at,
)


async def pseudonyms_taken(scope: TenantScope, prefix: str) -> int:
    """How many pseudonyms start with `prefix`, erased households' included (never reused)."""
    live: int = await scoped.count(scope, Household).where(Household.pseudonym.like(prefix + "%"))
    gone: int = await scoped.count(scope, Tombstone).where(Tombstone.pseudonym.like(prefix + "%"))
    return live + gone


async def insert_household(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Household, values)


async def household(scope: TenantScope, household_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Household, *HOUSEHOLD_COLUMNS)
        .where(Household.id == household_id)
        .first()
    )
    return row


async def update_household(
    scope: TenantScope, household_id: uuid.UUID, values: dict[str, Any]
) -> None:
    await scoped.update(scope, Household, values).where(Household.id == household_id)


def _reach(query: Any, association: uuid.UUID | None, lessor: uuid.UUID | None) -> Any:
    """The households one organisation follows, or houses (the pilot's register: all)."""
    if association is not None:
        query = query.where(Household.association == association)
    if lessor is not None:
        query = query.where(Household.lessor == lessor)
    return query


def _filtered(query: Any, filters: dict[str, Any]) -> Any:
    if filters.get("step"):
        query = query.where(Household.step == filters["step"])
    if filters.get("referent"):
        query = query.where(Household.referent == filters["referent"])
    if filters.get("lessor_referent"):
        query = query.where(Household.lessor_referent == filters["lessor_referent"])
    if filters.get("convention"):
        query = query.where(Household.convention == filters["convention"])
    if filters.get("occupancy"):
        query = query.where(Household.occupancy == filters["occupancy"])
    if filters.get("ids") is not None:
        query = query.where(Household.id.is_in(list(filters["ids"]) or [uuid.UUID(int=0)]))
    return query


async def listing(
    scope: TenantScope,
    *,
    association: uuid.UUID | None,
    lessor: uuid.UUID | None,
    filters: dict[str, Any],
    limit: int,
    offset: int,
) -> list[Row]:
    query = scoped.select(scope, Household, *HOUSEHOLD_COLUMNS)
    query = _filtered(_reach(query, association, lessor), filters)
    rows: list[Row] = (
        await query.order_by(Household.pseudonym, ascending=False).limit(limit).offset(offset)
    )
    return rows


async def listing_count(
    scope: TenantScope,
    *,
    association: uuid.UUID | None,
    lessor: uuid.UUID | None,
    filters: dict[str, Any],
) -> int:
    query = scoped.count(scope, Household)
    count: int = await _filtered(_reach(query, association, lessor), filters)
    return count


async def counts_by(scope: TenantScope, column: str) -> list[Row]:
    """Households per value of `column` (`step`, `occupancy`, `convention.reference`: through
    a foreign key too), in one statement; the value comes back under `value`."""
    target = Household._meta.get_column_by_name(column)
    rows: list[Row] = await scoped.select(
        scope, Household, target.as_alias("value"), Count(alias="households")
    ).group_by(target)
    return rows


async def ids_by_name_hash(scope: TenantScope, name_hash: str) -> list[uuid.UUID]:
    rows = await scoped.select(scope, Identity, Identity.household).where(
        Identity.name_hash == name_hash
    )
    return [r["household"] for r in rows]


# Identity --------------------------------------------------------------------------------------


async def insert_identity(
    scope: TenantScope, household_id: uuid.UUID, sealed: str, name_hash: str
) -> None:
    await scoped.add(
        scope, Identity, {"household": household_id, "sealed": sealed, "name_hash": name_hash}
    )


async def update_identity(
    scope: TenantScope, household_id: uuid.UUID, sealed: str, name_hash: str, now: dt.datetime
) -> None:
    await scoped.update(
        scope, Identity, {"sealed": sealed, "name_hash": name_hash, "updated_at": now}
    ).where(Identity.household == household_id)


async def identities(
    scope: TenantScope, household_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Sealed identities of several households, in one statement."""
    if not household_ids:
        return {}
    rows = await scoped.select(scope, Identity, Identity.household, Identity.sealed).where(
        Identity.household.is_in(list(household_ids))
    )
    return {r["household"]: r["sealed"] for r in rows}


# Pathway and occupancy -------------------------------------------------------------------------


async def insert_transition(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Transition, values)


async def transitions(scope: TenantScope, household_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = (
        await scoped.select(scope, Transition)
        .where(Transition.household == household_id)
        .order_by(Transition.at)
    )
    return rows


async def insert_occupation(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Occupation, values)


async def occupations(scope: TenantScope, household_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = (
        await scoped.select(scope, Occupation)
        .where(Occupation.household == household_id)
        .order_by(Occupation.at)
    )
    return rows


async def insert_procedure(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Procedure, values)


async def procedures(scope: TenantScope, household_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = (
        await scoped.select(scope, Procedure)
        .where(Procedure.household == household_id)
        .order_by(Procedure.suspended_until)
    )
    return rows


async def running_procedures(scope: TenantScope, today: dt.date) -> list[Row]:
    rows: list[Row] = await scoped.select(
        scope,
        Procedure,
        Procedure.id,
        Procedure.suspended_on,
        Procedure.suspended_until,
        Procedure.household.pseudonym.as_alias("pseudonym"),
        Procedure.household.association.as_alias("association"),
        Procedure.household.lessor.as_alias("lessor"),
    ).where(Procedure.suspended_until >= today)
    return rows


# Notes and diagnostic --------------------------------------------------------------------------


async def insert_note(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Note, values)


async def notes(scope: TenantScope, household_id: uuid.UUID, reader: uuid.UUID) -> list[Row]:
    """The household's notes a reader may see: the shared ones, and its own personal ones."""
    rows: list[Row] = (
        await scoped.select(scope, Note)
        .where(Note.household == household_id)
        .where((Note.personal == False) | (Note.author == reader))  # noqa: E712
        .order_by(Note.at, ascending=False)
    )
    return rows


async def sections(scope: TenantScope) -> list[Row]:
    rows: list[Row] = await scoped.select(scope, Section).order_by(Section.position)
    return rows


async def replace_sections(scope: TenantScope, grid: Sequence[dict[str, Any]]) -> None:
    await scoped.delete(scope, Section)
    if grid:
        await scoped.insert(scope, Section, *grid)


async def diagnostic(scope: TenantScope, household_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = await scoped.select(scope, Diagnostic).where(
        Diagnostic.household == household_id
    )
    return rows


async def save_section(
    scope: TenantScope,
    household_id: uuid.UUID,
    section: str,
    sealed: str,
    by: uuid.UUID,
    now: dt.datetime,
) -> None:
    updated = (
        await scoped.update(scope, Diagnostic, {"sealed": sealed, "by": by, "updated_at": now})
        .where((Diagnostic.household == household_id) & (Diagnostic.section == section))
        .returning(Diagnostic.id)
    )
    if not updated:
        await scoped.add(
            scope,
            Diagnostic,
            {"household": household_id, "section": section, "sealed": sealed, "by": by},
        )


# Consents and transmissions --------------------------------------------------------------------


async def insert_consent(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Consent, values)


async def consents(scope: TenantScope, household_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = (
        await scoped.select(scope, Consent)
        .where(Consent.household == household_id)
        .order_by(Consent.collected_on, ascending=False)
    )
    return rows


async def consent(scope: TenantScope, household_id: uuid.UUID, consent_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Consent)
        .where((Consent.household == household_id) & (Consent.id == consent_id))
        .first()
    )
    return row


async def withdraw_consent(
    scope: TenantScope, household_id: uuid.UUID, consent_id: uuid.UUID, on: dt.date
) -> bool:
    rows = (
        await scoped.update(scope, Consent, {"state": "withdrawn", "withdrawn_on": on})
        .where(
            (Consent.household == household_id)
            & (Consent.id == consent_id)
            & (Consent.state == "given")
        )
        .returning(Consent.id)
    )
    return bool(rows)


async def insert_transmission(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Transmission, values)


async def transmissions(scope: TenantScope, household_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = (
        await scoped.select(
            scope,
            Transmission,
            Transmission.id,
            Transmission.consent,
            Transmission.recipient,
            Transmission.recipient.name.as_alias("recipient_name"),
            Transmission.section,
            Transmission.sealed,
            Transmission.by,
            Transmission.at,
        )
        .where(Transmission.household == household_id)
        .order_by(Transmission.at, ascending=False)
    )
    return rows


# Alerts ----------------------------------------------------------------------------------------

_ALERT_COLUMNS = (
    Alert.id,
    Alert.household,
    Alert.household.pseudonym.as_alias("pseudonym"),
    Alert.kind,
    Alert.raised_on,
    Alert.sender,
    Alert.sender.name.as_alias("sender_name"),
    Alert.addressee,
    Alert.addressee.name.as_alias("addressee_name"),
    Alert.sealed_note,
    Alert.raised_by,
    Alert.acknowledged_at,
    Alert.acknowledged_by,
    Alert.resolved_at,
    Alert.sealed_resolution,
    Alert.at,
)


async def insert_alert(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Alert, values)


async def alerts(scope: TenantScope, household_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = (
        await scoped.select(scope, Alert, *_ALERT_COLUMNS)
        .where(Alert.household == household_id)
        .order_by(Alert.at, ascending=False)
    )
    return rows


async def alert(scope: TenantScope, alert_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Alert, *_ALERT_COLUMNS).where(Alert.id == alert_id).first()
    )
    return row


async def inbox(scope: TenantScope, organisation: uuid.UUID, limit: int) -> list[Row]:
    """Alerts an organisation sent or received, open ones first."""
    rows: list[Row] = (
        await scoped.select(scope, Alert, *_ALERT_COLUMNS)
        .where((Alert.addressee == organisation) | (Alert.sender == organisation))
        .order_by(Alert.at, ascending=False)
        .limit(limit)
    )
    rows.sort(key=lambda r: r["resolved_at"] is not None)  # stable: newest first within each
    return rows


async def acknowledge_alert(
    scope: TenantScope, alert_id: uuid.UUID, by: uuid.UUID, now: dt.datetime
) -> bool:
    rows = (
        await scoped.update(scope, Alert, {"acknowledged_at": now, "acknowledged_by": by})
        .where((Alert.id == alert_id) & Alert.acknowledged_at.is_null())
        .returning(Alert.id)
    )
    return bool(rows)


async def resolve_alert(
    scope: TenantScope, alert_id: uuid.UUID, by: uuid.UUID, now: dt.datetime, sealed: str
) -> bool:
    rows = (
        await scoped.update(
            scope,
            Alert,
            {
                "resolved_at": now,
                "resolved_by": by,
                "sealed_resolution": sealed,
            },
        )
        .where((Alert.id == alert_id) & Alert.resolved_at.is_null())
        .returning(Alert.id)
    )
    return bool(rows)


async def unacknowledged_alerts(scope: TenantScope) -> list[Row]:
    rows: list[Row] = await scoped.select(
        scope,
        Alert,
        Alert.id,
        Alert.kind,
        Alert.raised_on,
        Alert.addressee,
        Alert.household.pseudonym.as_alias("pseudonym"),
    ).where(Alert.acknowledged_at.is_null() & Alert.resolved_at.is_null())
    return rows


# Settings --------------------------------------------------------------------------------------


async def settings(scope: TenantScope) -> Row | None:
    row: Row | None = await scoped.select(scope, Settings).first()
    return row


async def save_settings(scope: TenantScope, values: dict[str, Any]) -> None:
    updated = await scoped.update(scope, Settings, values).returning(Settings.id)
    if not updated:
        await scoped.add(scope, Settings, values)


# Read log --------------------------------------------------------------------------------------


async def insert_reads(scope: TenantScope, rows: Sequence[dict[str, Any]]) -> None:
    """One statement for every read a page makes, however many households it shows."""
    if rows:
        await scoped.insert(scope, Read, *rows)


async def reads_of(
    scope: TenantScope, household_id: uuid.UUID, limit: int | None = 500
) -> list[Row]:
    """The newest first; `limit=None`: every row (a subject-access request)."""
    query = (
        scoped.select(scope, Read)
        .where(Read.household == household_id)
        .order_by(Read.at, ascending=False)
    )
    rows: list[Row] = await (query.limit(limit) if limit is not None else query)
    return rows


# Retention -------------------------------------------------------------------------------------


async def idle_since(scope: TenantScope, before: dt.datetime) -> list[Row]:
    rows: list[Row] = await scoped.select(scope, Household, *HOUSEHOLD_COLUMNS).where(
        Household.last_contact_at < before
    )
    return rows


async def evidence_keys(scope: TenantScope, household_id: uuid.UUID) -> list[str]:
    rows = await scoped.select(scope, Consent, Consent.evidence_key).where(
        (Consent.household == household_id) & (Consent.evidence_key != "")
    )
    return [r["evidence_key"] for r in rows]


async def erase(scope: TenantScope, household_id: uuid.UUID) -> None:
    """Every row of the household, children first (the read log stays: it has no key to it)."""
    for table in (
        Transmission,
        Consent,
        Alert,
        Procedure,
        Diagnostic,
        Note,
        Occupation,
        Transition,
        Identity,
    ):
        await scoped.delete(scope, table).where(table.household == household_id)
    await scoped.delete(scope, Household).where(Household.id == household_id)


async def insert_tombstone(
    scope: TenantScope, pseudonym: str, at: dt.datetime, reason: str
) -> None:
    await scoped.add(scope, Tombstone, {"pseudonym": pseudonym, "erased_at": at, "reason": reason})


async def tombstones(scope: TenantScope) -> list[Row]:
    rows: list[Row] = await scoped.select(scope, Tombstone).order_by(
        Tombstone.erased_at, ascending=False
    )
    return rows


async def add_erased_count(scope: TenantScope, month: str, step: str, exit_reason: str) -> None:
    match = (
        (ErasedCount.month == month)
        & (ErasedCount.step == step)
        & (ErasedCount.exit_reason == exit_reason)
    )
    updated = (
        await scoped.update(scope, ErasedCount, {"households": ErasedCount.households + 1})
        .where(match)
        .returning(ErasedCount.id)
    )
    if not updated:
        await scoped.add(
            scope,
            ErasedCount,
            {"month": month, "step": step, "exit_reason": exit_reason, "households": 1},
        )


async def erased_counts(scope: TenantScope) -> list[Row]:
    rows: list[Row] = await scoped.select(scope, ErasedCount).order_by(ErasedCount.month)
    return rows
