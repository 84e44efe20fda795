"""Periodic signing work, idempotent: reminders (one row per participant and key, so never
twice for the same step), expiry, signatures left waiting for a time-stamp, and the daily
time-stamp of every audit chain head when an authority is configured."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from typing import TYPE_CHECKING

from portal.conventions import service as conventions
from portal.core import periodic as units
from portal.core.templating import date_fr
from portal.core.tenancy import TenantScope
from portal.notifications import service as notifications
from portal.signing import chain, jobs, keys, repository, workflow
from portal.signing.apply import SYSTEM
from portal.signing.enums import EventKind, ParticipantStatus, RequestStatus
from portal.signing.repository import Row

if TYPE_CHECKING:
    from pyhanko.sign.timestamps import TimeStamper


def due_reminder_keys(step: int, days_open: int, reminder_days: list[int]) -> list[str]:
    """Keys due after `days_open` days: one per configured day, then one per week after the
    last of them."""
    keys_due = [f"s{step}-j{d}" for d in sorted(reminder_days) if days_open >= d]
    if reminder_days and days_open >= max(reminder_days) + 7:
        weeks = (days_open - max(reminder_days)) // 7
        keys_due += [f"s{step}-w{n}" for n in range(1, weeks + 1)]
    return keys_due


async def scan(at: dt.datetime) -> None:
    """Each request apart: one whose rows make its work fail is retried at the next run, and
    the others are reminded and expired meanwhile."""
    for req in await repository.active_requests():
        scope = TenantScope.for_platform(
            req["consortium"], reason="the scheduler scans every active signature request"
        )
        async with units.unit("signatures", consortium=scope.consortium_id, request=req["id"]):
            await _scan_request(scope, req, at)


async def _scan_request(scope: TenantScope, req: Row, at: dt.datetime) -> None:
    if workflow.past_expiry(req, at):
        await _expire(scope, req)
        return
    people = await repository.participants(scope, req["id"])
    if req["closing"] == "pending" or any(
        p["status"] == ParticipantStatus.SUBMITTED for p in people
    ):
        # Signatures waiting (for a time-stamping authority, say): try again hourly.
        await jobs.enqueue_apply(scope, req["id"], at.strftime("%Y%m%d%H"))
    if req["step_opened_at"] is None:
        return
    days_open = (at - req["step_opened_at"]).days
    due = due_reminder_keys(req["current_step"], days_open, list(req["reminder_days"]))
    if not due:
        return
    for p in people:
        if p["status"] != ParticipantStatus.PENDING:
            continue
        async with repository.locked(scope, req["id"]):
            owed = [k for k in due if not await repository.reminder_sent(scope, p["id"], k)]
            if not owed:
                continue
            # A late scan owing several reminders sends one and records them all.
            for key in owed:
                await repository.insert_reminder(scope, p["id"], key)
            await chain.append(
                scope,
                req["id"],
                EventKind.REMINDED,
                audit=SYSTEM,
                participant=p["id"],
                details={"keys": owed},
            )
            # Scheduled, so it waits for the morning like every non-urgent e-mail.
            await jobs.enqueue_mail(
                scope,
                p["id"],
                "reminder",
                owed[-1],
                run_after=notifications.next_sending_time(at),
            )


async def _expire(scope: TenantScope, req: Row) -> None:
    async with repository.locked(scope, req["id"]) as fresh:
        if fresh is None or fresh["status"] != RequestStatus.ACTIVE:
            return  # closed meanwhile: nothing to do (the scan may run twice)
        await workflow.close(
            scope,
            req["id"],
            RequestStatus.EXPIRED,
            EventKind.EXPIRED,
            SYSTEM,
            "Date d'expiration dépassée",
        )
        missing = [
            p["name"]
            for p in workflow.acting(await repository.participants(scope, req["id"]))
            if not ParticipantStatus(p["status"]).done
        ]
        convention = await conventions.convention_of(scope, req["convention"])
        title = convention["title"] if convention else ""
        await workflow.tell_pilots(
            scope,
            req,
            f"Demande de signature expirée : « {title} »",
            f"Elle a expiré le {date_fr(req['expires_on'])} sans toutes les signatures "
            f"(manquent : {', '.join(missing) or 'aucune'}). Vous pouvez envoyer une nouvelle "
            "demande.",
        )


async def anchor_heads(at: dt.datetime, stamper: TimeStamper | None = None) -> bool:
    """Time-stamps the SHA-256 of every chain head once a day. False when nothing was done."""
    stamper = stamper or keys.timestamper()
    day = at.date()
    if stamper is None or await repository.anchor(day) is not None:
        return False
    reason = "the daily anchor time-stamps every chain's head"
    heads = {
        str(request_id): await chain.head(TenantScope.for_platform(c, reason=reason), request_id)
        for c, request_id in await repository.all_request_ids()
    }
    digest = hashlib.sha256(json.dumps(heads, sort_keys=True).encode()).digest()
    token = await stamper.async_timestamp(digest, "sha256")
    await repository.insert_anchor(
        {
            "day": day,
            "digest": digest.hex(),
            "heads": heads,
            "token": base64.b64encode(token.dump()).decode(),
        }
    )
    return True
