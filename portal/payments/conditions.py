"""When a planned line becomes payable: its trigger is checked against the other domains'
facts (the convention signed, a document validated, a subsidy installment received, the
date reached). Idempotent: a met condition is recorded once, with the fact's own time when
known (the signature, the validation, the payment, the date); running it again, late, or on
several workers at once changes nothing more."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from portal.core.templating import PARIS
from portal.core.tenancy import TenantScope
from portal.documents import service as documents
from portal.payments import lifecycle, repository
from portal.payments.access import Sight
from portal.payments.enums import LineStatus, Trigger
from portal.payments.repository import LineFilter, Row

AUTOMATIC = (Trigger.SIGNATURE, Trigger.DOCUMENT, Trigger.INSTALLMENT, Trigger.DATE)


def met(
    line: Mapping[str, Any],
    today: dt.date,
    validated_documents: Mapping[uuid.UUID, dt.datetime | None],
    received_lines: Mapping[uuid.UUID, dt.date | None],
) -> dt.datetime | None:
    """When the line's trigger was met (the fact's own time when known), or None."""
    trigger = Trigger(line["trigger"])
    if trigger is Trigger.SIGNATURE:
        return line["convention_signed_at"] if line["convention_status"] == "signed" else None
    if trigger is Trigger.DOCUMENT:
        if line["trigger_document"] not in validated_documents:
            return None
        return validated_documents[line["trigger_document"]] or _day(today)
    if trigger is Trigger.INSTALLMENT:
        if line["trigger_line"] not in received_lines:
            return None
        return _day(received_lines[line["trigger_line"]] or today)
    if trigger is Trigger.DATE:
        return _day(line["expected_on"]) if line["expected_on"] <= today else None
    return None  # manual: recorded by hand


def _day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=PARIS)


async def _facts(
    scope: TenantScope, waiting: Sequence[Row]
) -> tuple[dict[uuid.UUID, dt.datetime | None], dict[uuid.UUID, dt.date | None]]:
    """Documents validated (with when) and subsidy lines received in full (with when)."""
    validated: dict[uuid.UUID, dt.datetime | None] = {}
    if any(line["trigger"] == Trigger.DOCUMENT for line in waiting):
        validated = {
            uuid.UUID(str(item["id"])): item["reviewed_at"]
            for item in await documents.items_of(scope)
            if documents.is_validated(item)
        }
    received: dict[uuid.UUID, dt.date | None] = {}
    sources = tuple(line["trigger_line"] for line in waiting if line["trigger_line"])
    if sources:
        received = {
            row["id"]: row["last_paid_on"]
            for row in await repository.lines(
                scope, Sight(everything=True), LineFilter(ids=sources)
            )
            if row["status"] == LineStatus.PAID
        }
    return validated, received


async def refresh(scope: TenantScope, at: dt.datetime) -> int:
    """Records the conditions met since last time; returns how many lines became payable."""
    waiting = [
        line
        for line in await repository.planned_lines(scope)
        if line["met_at"] is None and line["trigger"] in AUTOMATIC
    ]
    if not waiting:
        return 0
    today = at.date()
    validated, received = await _facts(scope, waiting)
    changed = 0
    for line in waiting:
        when = met(line, today, validated, received)
        if when is None:
            continue
        when = min(when, at)  # never in the future of the scan that saw it
        facts = {**line, "met_at": when}
        amount = lifecycle.amount_of(line, facts)
        await repository.update_line(
            scope,
            line["id"],
            {"met_at": when, "status": lifecycle.status_of(facts, amount), "status_since": at},
        )
        changed += 1
    return changed
