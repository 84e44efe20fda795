"""The tamper-evident audit trail of a signature request.

Each event stores `hash = SHA-256(prev_hash + canonical JSON of the event)`, the first one
chained to 64 zeros. Appends happen inside `repository.locked`, so a request has one chain; on
PostgreSQL a trigger refuses UPDATE and DELETE on the table. `verify` recomputes the chain and
names the first link that does not hold: an altered row breaks its own hash, a removed or
reordered row breaks the sequence or the next `prev_hash`; removing the last rows is caught by
the length and head kept on the request, and by the daily time-stamp of every head.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portal.core import clock
from portal.core.tenancy import TenantScope
from portal.signing import repository
from portal.signing.enums import EventKind

GENESIS = "0" * 64


def _at(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="microseconds")


def canonical(event: Mapping[str, Any]) -> bytes:
    body = {
        "request": str(event["request"]),
        "seq": event["seq"],
        "at": _at(event["at"]),
        "kind": str(event["kind"]),
        "participant": str(event["participant"]) if event.get("participant") else None,
        "actor": event.get("actor", ""),
        "ip": event.get("ip", ""),
        "user_agent": event.get("user_agent", ""),
        "document_sha256": event.get("document_sha256", ""),
        "details": event.get("details") or {},
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def link(prev_hash: str, event: Mapping[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(event)).hexdigest()


@dataclass(frozen=True)
class Audit:
    """Who, from where, acting on which document state."""

    actor: str = ""
    ip: str = ""
    user_agent: str = ""


async def append(
    scope: TenantScope,
    request_id: uuid.UUID,
    kind: EventKind,
    *,
    audit: Audit = Audit(),
    participant: uuid.UUID | None = None,
    document_sha256: str = "",
    details: Mapping[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> str:
    """Call inside `repository.locked(scope, request_id)`. Returns the new head."""
    last = await repository.last_event(scope, request_id)
    event = {
        "request": request_id,
        "seq": (last["seq"] + 1) if last else 1,
        "at": at or clock.now(),
        "kind": kind.value,
        "participant": participant,
        "actor": audit.actor[:400],
        "ip": audit.ip[:64],
        "user_agent": audit.user_agent[:400],
        "document_sha256": document_sha256,
        "details": dict(details or {}),
    }
    prev = last["hash"] if last else GENESIS
    head = link(prev, event)
    await repository.insert_event(scope, {**event, "prev_hash": prev, "hash": head})
    await repository.update_request(
        scope, request_id, {"chain_length": event["seq"], "chain_head": head}
    )
    return head


@dataclass(frozen=True)
class Break:
    seq: int
    reason: str


def verify(
    events: Sequence[Mapping[str, Any]],
    *,
    length: int = 0,
    head: str = "",
    anchored: str = "",
) -> Break | None:
    """The first broken link of a request's events (in stored `seq` order), or None.

    `length` and `head` are those recorded on the request at each append, `anchored` the head
    in the latest daily time-stamp: they reveal events removed from the end, which leave a
    shorter chain that still links."""
    prev = GENESIS
    for expected, event in enumerate(events, 1):
        if event["seq"] != expected:
            return Break(expected, f"événement n° {expected} manquant ou déplacé")
        if event["prev_hash"] != prev:
            return Break(event["seq"], "ne suit pas l'événement précédent (retiré ou modifié)")
        if link(prev, event) != event["hash"]:
            return Break(event["seq"], "contenu modifié après coup")
        prev = event["hash"]
    if len(events) < length:
        return Break(len(events) + 1, f"les derniers événements (jusqu'au n° {length}) manquent")
    if head and prev != head:
        return Break(len(events), "ne mène pas à la tête enregistrée du journal")
    if anchored and all(event["hash"] != anchored for event in events):
        return Break(len(events) + 1, "un événement horodaté par l'autorité a disparu")
    return None


async def head(scope: TenantScope, request_id: uuid.UUID) -> str:
    last = await repository.last_event(scope, request_id)
    return last["hash"] if last else GENESIS


async def check(scope: TenantScope, request_id: uuid.UUID) -> Break | None:
    request = await repository.request(scope, request_id)
    anchor = await repository.latest_anchor()
    return verify(
        await repository.events(scope, request_id),
        length=request["chain_length"] if request else 0,
        head=request["chain_head"] if request else "",
        anchored=str(anchor["heads"].get(str(request_id), "")) if anchor else "",
    )
