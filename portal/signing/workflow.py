"""How a request moves: steps open one after another, a step closes when each of its signers
and approvers is done, and the last one hands over to completion (in `apply`).

Request states:
| from   | to        | when                                                        |
|--------|-----------|-------------------------------------------------------------|
| -      | active    | the pilot sends a frozen version (`requests.create`)        |
| active | completed | every step done, final revision and certificate stored      |
| active | declined  | a signer or approver declines, with a reason                |
| active | cancelled | the pilot cancels, with a reason                            |
| active | expired   | its expiry date passed (scheduler)                          |

Participant states: waiting → pending (their step opens) → submitted (code checked, consent
given; the signature is being applied, time-stamp included) → signed; approvers go pending →
approved; copy recipients are notified at completion. A replaced or delegated participant's
link stops working; their successor takes the same place in the same step.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from portal.core import clock, security
from portal.core.tenancy import TenantScope
from portal.notifications import service as notifications
from portal.settings import get_settings
from portal.signing import chain, jobs, repository
from portal.signing.chain import Audit
from portal.signing.enums import EventKind, ParticipantRole, ParticipantStatus, RequestStatus
from portal.signing.repository import Row
from portal.tenants import service as tenants


def token_for(participant: Row) -> str:
    return security.derived_token(
        get_settings().secret_key, f"signature:{participant['token_nonce']}", participant["id"]
    )


def link_for(participant: Row) -> str:
    return f"{get_settings().base_url}/signature/{token_for(participant)}"


def past_expiry(request: Row, at: dt.datetime) -> bool:
    """The whole expiry day still counts; the scan closes the request the day after."""
    return bool(request["expires_on"] < at.date())


def link_alive(participant: Row, request: Row, at: dt.datetime) -> bool:
    """Whether a participant's e-mailed link still leads anywhere. A replaced or delegated
    person's successor holds the only live link for that place; a cancelled or expired
    request has nothing left to sign, and its links must not expose the document either."""
    if ParticipantStatus(participant["status"]).gone:
        return False
    status = RequestStatus(request["status"])
    if status in (RequestStatus.CANCELLED, RequestStatus.EXPIRED):
        return False
    return not (status == RequestStatus.ACTIVE and past_expiry(request, at))


def acting(participants: Sequence[Row], step: int | None = None) -> list[Row]:
    """Signers and approvers still part of the request (of one step, if given)."""
    return [
        p
        for p in participants
        if p["role"] != ParticipantRole.COPY
        and not ParticipantStatus(p["status"]).gone
        and (step is None or p["step"] == step)
    ]


async def open_step(
    scope: TenantScope, request: Row, step: int, document_sha256: str, audit: Audit
) -> None:
    """Inside `repository.locked`: the step's people may act, and are told so."""
    at = clock.now()
    await repository.update_request(
        scope, request["id"], {"current_step": step, "step_opened_at": at}
    )
    for p in acting(await repository.participants(scope, request["id"]), step):
        if p["status"] != ParticipantStatus.WAITING:
            continue
        await repository.update_participant(scope, p["id"], {"status": ParticipantStatus.PENDING})
        await chain.append(
            scope,
            request["id"],
            EventKind.SENT,
            audit=audit,
            participant=p["id"],
            document_sha256=document_sha256,
            details={"step": step, "to": p["email"], "role": p["role"]},
        )
        await jobs.enqueue_mail(scope, p["id"], "invite", str(step))


async def advance(scope: TenantScope, request_id: uuid.UUID, audit: Audit) -> bool:
    """Inside `repository.locked`: opens the next step when the current one is done. Returns
    True when every step is done (the caller enqueues completion)."""
    request = await repository.request(scope, request_id)
    if request is None or request["status"] != RequestStatus.ACTIVE:
        return False
    people = await repository.participants(scope, request_id)
    current = acting(people, request["current_step"])
    if not all(ParticipantStatus(p["status"]).done for p in current):
        return False
    later = sorted({p["step"] for p in acting(people) if p["step"] > request["current_step"]})
    latest = await repository.latest_revision(scope, request_id)
    if later:
        await open_step(scope, request, later[0], latest["sha256"] if latest else "", audit)
        return False
    await repository.update_request(scope, request_id, {"closing": "pending"})
    return True


async def close(
    scope: TenantScope,
    request_id: uuid.UUID,
    status: RequestStatus,
    kind: EventKind,
    audit: Audit,
    reason: str,
    participant: uuid.UUID | None = None,
) -> None:
    """Inside `repository.locked`: ends an active request (declined, cancelled, expired)."""
    latest = await repository.latest_revision(scope, request_id)
    await repository.update_request(
        scope, request_id, {"status": status, "closed_reason": reason, "completed_at": clock.now()}
    )
    await chain.append(
        scope,
        request_id,
        kind,
        audit=audit,
        participant=participant,
        document_sha256=latest["sha256"] if latest else "",
        details={"reason": reason} if reason else {},
    )


async def tell_pilots(scope: TenantScope, request: Row, title: str, body: str) -> None:
    """The consortium's pilots and whoever sent the request, in the notification centre (and
    by e-mail as each prefers), with a link to the request's page."""
    found = await tenants.scope_and_consortium(scope.consortium_id)
    if found is None:
        return
    pilots = set(await tenants.active_pilots(scope))
    if request["created_by"]:
        pilots.add(request["created_by"])
    await notifications.notify(
        sorted(pilots),
        kind="signature",
        title=title,
        body=body,
        link=f"/c/{found[1]['slug']}/conventions/{request['convention']}/signature",
        subject=f"signature:{request['id']}",
        consortium_id=scope.consortium_id,
    )
