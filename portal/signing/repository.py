"""Queries of the signing domain. Every function but the token lookup, the platform-wide scans
and the anchors is tenant-scoped; `locked` serialises everything done to one request."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

from portal.core import db, scoped
from portal.core.prepared import prepared
from portal.core.scoped import unscoped
from portal.core.tenancy import TenantScope
from portal.signing.enums import EventKind, ParticipantStatus, RequestStatus
from portal.signing.tables import Anchor, Event, Participant, Reminder, Revision, SignatureRequest

Row = dict[str, Any]

_locks: dict[uuid.UUID, asyncio.Lock] = {}


@contextlib.asynccontextmanager
async def locked(scope: TenantScope, request_id: uuid.UUID) -> AsyncIterator[Row | None]:
    """One transaction holding the request: `SELECT … FOR UPDATE` on PostgreSQL (several web
    and worker processes), an immediate transaction plus a process lock on SQLite (embedded
    default, one process). Audit appends and PDF revisions inside it form a single chain."""
    query = (
        scoped.select(scope, SignatureRequest)
        .where(SignatureRequest.id == request_id)
        .output(load_json=True)
    )
    async with _locks.setdefault(request_id, asyncio.Lock()), db.locked(query) as row:
        yield row


# Requests ----------------------------------------------------------------------------------


async def insert_request(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, SignatureRequest, values)


async def request(scope: TenantScope, request_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, SignatureRequest)
        .where(SignatureRequest.id == request_id)
        .output(load_json=True)
        .first()
    )
    return row


async def requests_of(scope: TenantScope, convention_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = (
        await scoped.select(scope, SignatureRequest)
        .where(SignatureRequest.convention == convention_id)
        .output(load_json=True)
        .order_by(SignatureRequest.created_at, ascending=False)
    )
    return rows


async def update_request(scope: TenantScope, request_id: uuid.UUID, values: dict[str, Any]) -> None:
    await scoped.update(scope, SignatureRequest, values).where(SignatureRequest.id == request_id)


@unscoped("the scheduler scans the active requests of every consortium")
async def active_requests() -> list[Row]:
    """Platform-wide, for the scheduler (reminders, expiry, pending completion)."""
    rows: list[Row] = (
        await SignatureRequest.select()
        .where(SignatureRequest.status == RequestStatus.ACTIVE)
        .output(load_json=True)
    )
    return rows


@unscoped("the daily anchor and the operator's audit check cover every chain")
async def all_request_ids() -> list[tuple[uuid.UUID, uuid.UUID]]:
    rows = await SignatureRequest.select(SignatureRequest.consortium, SignatureRequest.id)
    return [(r["consortium"], r["id"]) for r in rows]


# Participants ------------------------------------------------------------------------------


async def insert_participant(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Participant, values)


async def participants(scope: TenantScope, request_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = (
        await scoped.select(scope, Participant)
        .where(Participant.request == request_id)
        .order_by(Participant.step)
        .order_by(Participant.position)
    )
    return rows


async def participant(scope: TenantScope, participant_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Participant).where(Participant.id == participant_id).first()
    )
    return row


@unscoped("a signing link is followed before its consortium is known")
async def participant_by_token_hash(token_hash: str) -> Row | None:
    """The one cross-tenant lookup: a signing link names its participant, and through it the
    consortium every later query is scoped to."""
    row: Row | None = await Participant.select().where(Participant.token_hash == token_hash).first()
    return row


async def update_participant(
    scope: TenantScope, participant_id: uuid.UUID, values: dict[str, Any]
) -> None:
    await scoped.update(scope, Participant, values).where(Participant.id == participant_id)


# On every home page of a space: built once (`portal.core.prepared`).
_AWAITING = prepared(
    lambda p: (
        scoped.select(
            p.scope,
            Participant,
            *Participant.all_columns(),
            Participant.request.convention.title.as_alias("convention_title"),  # type: ignore[union-attr]
            Participant.request.convention.reference.as_alias("convention_reference"),  # type: ignore[union-attr]
            Participant.request.convention.id.as_alias("convention_id"),  # type: ignore[union-attr]
            Participant.request.expires_on.as_alias("expires_on"),
        )
        .where(
            (Participant.status == ParticipantStatus.PENDING)
            & (Participant.request.status == RequestStatus.ACTIVE)
            & ((Participant.user_id == p.user_id) | (Participant.email == p.email))
        )
        .order_by(Participant.request.expires_on)
    )
)


async def awaiting(scope: TenantScope, user_id: uuid.UUID, email: str) -> list[Row]:
    """Participants of active requests whose turn it is, for this account."""
    rows: list[Row] = await _AWAITING(scope=scope, user_id=user_id, email=email.lower())
    return rows


# Revisions ---------------------------------------------------------------------------------


async def insert_revision(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Revision, values)


async def revisions(scope: TenantScope, request_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = (
        await scoped.select(scope, Revision)
        .where(Revision.request == request_id)
        .order_by(Revision.number)
    )
    return rows


async def latest_revision(scope: TenantScope, request_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Revision)
        .where(Revision.request == request_id)
        .order_by(Revision.number, ascending=False)
        .first()
    )
    return row


@unscoped("any uploaded PDF is checked against every consortium's documents")
async def revision_by_sha(sha256: str) -> Row | None:
    """Platform-wide: does an uploaded file match a document signed through the portal?"""
    row: Row | None = await Revision.select().where(Revision.sha256 == sha256).first()
    return row


# Audit events ------------------------------------------------------------------------------


async def last_event(scope: TenantScope, request_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Event)
        .where(Event.request == request_id)
        .order_by(Event.seq, ascending=False)
        .output(load_json=True)
        .first()
    )
    return row


async def code_events(
    scope: TenantScope, participant_id: uuid.UUID, since: dt.datetime
) -> list[Row]:
    """A link's codes sent and lock-outs since `since`, oldest first (for the code cap)."""
    rows: list[Row] = (
        await scoped.select(scope, Event, Event.kind, Event.at)
        .where(
            (Event.participant == participant_id)
            & Event.kind.is_in([EventKind.CODE_SENT, EventKind.CODE_CAPPED])
            & (Event.at > since)
        )
        .order_by(Event.at)
    )
    return rows


async def insert_event(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Event, values)


async def events(scope: TenantScope, request_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = (
        await scoped.select(scope, Event)
        .where(Event.request == request_id)
        .order_by(Event.seq)
        .output(load_json=True)
    )
    return rows


# Reminders ---------------------------------------------------------------------------------


async def reminder_sent(scope: TenantScope, participant_id: uuid.UUID, key: str) -> bool:
    found = await scoped.exists(scope, Reminder).where(
        (Reminder.participant == participant_id) & (Reminder.key == key)
    )
    return bool(found)


async def insert_reminder(scope: TenantScope, participant_id: uuid.UUID, key: str) -> None:
    await scoped.add(scope, Reminder, {"participant": participant_id, "key": key})


# Anchors -----------------------------------------------------------------------------------


@unscoped("the daily anchors time-stamp the chains of all consortia together")
async def anchor(day: dt.date) -> Row | None:
    row: Row | None = await Anchor.select().where(Anchor.day == day).first()
    return row


@unscoped("the daily anchors time-stamp the chains of all consortia together")
async def insert_anchor(values: dict[str, Any]) -> None:
    await Anchor(**values).save()


@unscoped("the daily anchors time-stamp the chains of all consortia together")
async def latest_anchor() -> Row | None:
    row: Row | None = (
        await Anchor.select().order_by(Anchor.day, ascending=False).output(load_json=True).first()
    )
    return row


@unscoped("the daily anchors time-stamp the chains of all consortia together")
async def anchors() -> list[Row]:
    rows: list[Row] = (
        await Anchor.select().order_by(Anchor.day, ascending=False).output(load_json=True)
    )
    return rows
