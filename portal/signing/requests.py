"""The pilot's side: send a frozen convention version for signature, then follow, remind,
replace, extend or cancel. Every function takes an `Opened` convention: the conventions domain
has already checked that this member may see it."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from email_validator import EmailNotValidError, validate_email

from portal.audit.enums import AuditTag
from portal.auth.service import CurrentUser
from portal.conventions import service as convention_service
from portal.conventions.enums import ConventionStatus, PartyRole
from portal.conventions.service import Opened
from portal.core import clock, security
from portal.core.actor import Actor
from portal.core.db import transaction
from portal.core.forms import FieldError, check_date
from portal.core.tenancy import TenantScope
from portal.signing import chain, files, jobs, keys, repository, workflow
from portal.signing.chain import Audit
from portal.signing.enums import (
    EventKind,
    ParticipantRole,
    ParticipantStatus,
    RequestStatus,
    RevisionKind,
)
from portal.signing.pades.errors import PadesError
from portal.signing.repository import Row
from portal.signing.seals import SealError
from portal.tenants import service as tenants

if TYPE_CHECKING:  # forms reads `clock.today()` from here
    from portal.signing.forms import Line

DEFAULT_EXPIRY = dt.timedelta(days=30)
STEP_OF_ROLE = {
    PartyRole.LEAD_LESSOR: 1,
    PartyRole.LESSOR: 1,
    PartyRole.COFUNDER: 1,
    PartyRole.ASSOCIATION: 2,
    PartyRole.STATE: 3,
}


def audit_of(actor: Actor, who: str) -> Audit:
    """The evidence a signing event keeps of who acted, from where, with which browser."""
    return Audit(actor=who, ip=actor.ip, user_agent=actor.user_agent)


async def draft(opened: Opened) -> dict[str, Any]:
    """The form's starting point: one signer per party, in the usual order (bailleurs, then
    associations, then the State): the signatory the convention names, with the e-mail of the
    member of that name; with none named, the member allowed to sign. A named signatory who
    has no account gets no e-mail: the pilot types it (never someone else's address)."""
    version = await _frozen_version(opened)
    members = [m for m in await tenants.members(opened.ctx) if m["is_active"]]
    lines = []
    for index, party in enumerate(version["snapshot"]["parties"], 1):
        organisation = uuid.UUID(party["organisation"])
        colleagues = [m for m in members if m["organisation_id"] == organisation]
        named = party["signatory_name"].strip()
        if named:
            signer = next(
                (m for m in colleagues if m["full_name"].casefold() == named.casefold()), None
            )
        else:
            signer = next((m for m in colleagues if m["may_sign"]), None)
        lines.append(
            {
                "party_index": index,
                "organisation_name": party["organisation_name"],
                "step": STEP_OF_ROLE.get(PartyRole(party["role"]), 1),
                "role": ParticipantRole.SIGNER.value,
                "name": named or (signer["full_name"] if signer else ""),
                "title": party["signatory_title"],
                "email": signer["email"] if signer else "",
            }
        )
    return {
        "version": version,
        "lines": lines,
        "parties": [
            (i, p["organisation_name"]) for i, p in enumerate(version["snapshot"]["parties"], 1)
        ],
        "expires_on": clock.today() + DEFAULT_EXPIRY,
        "reminder_days": "3, 7",
    }


async def _frozen_version(opened: Opened) -> Row:
    if opened.status != ConventionStatus.READY:
        raise FieldError(
            "Seule une convention figée pour signature (« prête à signer ») peut être envoyée "
            "en signature.",
            "request",
        )
    versions = await convention_service.versions_of(opened.ctx, opened.id)
    if not versions or not versions[0]["frozen"]:
        raise FieldError("La convention n'a pas de version figée.", "request")
    version = await convention_service.version_of(opened.ctx, versions[0]["id"])
    assert version is not None
    return version


async def create(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    lines: list[Line],
    *,
    external_steps: set[int],
    expires_on: dt.date,
    reminder_days: list[int],
) -> uuid.UUID:
    # pyHanko on first use (see portal.signing.seals)
    from portal.signing.pades.fields import FieldSpec, add_signature_fields

    if not convention_service.may_edit(opened.ctx.role):
        raise PermissionError(opened.id)
    check_date(expires_on, "expires_on")
    scope = opened.ctx
    version = await _frozen_version(opened)
    await _check_none_active(scope, opened.id)
    try:
        seal = await keys.seal(scope)
    except SealError as exc:
        raise FieldError(exc.message, "request") from exc
    # Steps renumbered 1..n in the order given; copy recipients never hold a step open.
    used = sorted({line.step for line in lines if line.role != ParticipantRole.COPY})
    renumber = {step: n for n, step in enumerate(used, 1)}
    last = len(used)
    parties = version["snapshot"]["parties"]
    slots: dict[int, int] = {}
    for line in lines:
        if line.role == ParticipantRole.SIGNER:
            slots[line.party_index] = slots.get(line.party_index, 0) + 1
    taken: dict[int, int] = {}
    rows, specs = [], []
    for position, line in enumerate(lines):
        participant_id = uuid.uuid4()
        field = ""
        if line.role == ParticipantRole.SIGNER:
            field = f"signature-{participant_id.hex}"
            slot = taken.get(line.party_index, 0)
            taken[line.party_index] = slot + 1
            specs.append(FieldSpec(field, line.party_index, slot, slots[line.party_index]))
        nonce = secrets.token_hex(32)
        row = {
            "id": participant_id,
            "step": renumber.get(line.step, last),
            "role": line.role.value,
            "organisation": uuid.UUID(parties[line.party_index - 1]["organisation"]),
            "organisation_name": parties[line.party_index - 1]["organisation_name"],
            "party_index": line.party_index,
            "name": line.name,
            "title": line.title,
            "email": line.email,
            "user_id": None,
            "field_name": field,
            "token_nonce": nonce,
            "status": ParticipantStatus.WAITING.value,
            "position": position,
        }
        row["token_hash"] = security.token_hash(workflow.token_for(row))
        rows.append(row)
    frozen = await files.get(version["pdf_key"], version["pdf_sha256"])
    try:
        prepared = await files.cpu(add_signature_fields, frozen, specs)
    except PadesError as exc:
        raise FieldError(exc.message, "request") from exc
    request_id = uuid.uuid4()
    key = files.revision_key(scope.consortium_id, request_id, 1, files.sha256(prepared))
    prepared_sha = files.sha256(prepared)
    steps_external = sorted(renumber[s] for s in external_steps if s in renumber)
    request_row = {
        "id": request_id,
        "convention": opened.id,
        "version": version["id"],
        "status": RequestStatus.ACTIVE,
        "current_step": 0,
        "steps": last,
        "external_steps": steps_external,
        "expires_on": expires_on,
        "reminder_days": reminder_days,
        "timestamped": keys.timestamps(),
        "seal_label": seal.label,
        "created_by": user.id,
        "created_by_name": user.full_name,
    }
    revisions = [
        (RevisionKind.FROZEN, version["pdf_key"], version["pdf_sha256"], len(frozen)),
        (RevisionKind.FIELDS, key, prepared_sha, len(prepared)),
    ]
    created = {
        "convention": opened.row["reference"],
        "version": version["number"],
        "frozen_sha256": version["pdf_sha256"],
        "steps": last,
        "external_steps": steps_external,
        "participants": [
            {
                "name": r["name"],
                "email": r["email"],
                "role": r["role"],
                "step": r["step"],
                "organisation": r["organisation_name"],
            }
            for r in rows
        ],
        "expires_on": expires_on.isoformat(),
        "seal": seal.label,
    }
    audit = audit_of(actor, user.full_name)
    # Storage or database down: `Unavailable`, which the page shows as a 503.
    async with files.stored(key, prepared, scope.consortium_id) as stored:
        # One transaction: the request with its participants and revisions, or nothing.
        async with transaction(immediate=True):
            await _insert(scope, request_row, rows, revisions, created, audit)
            await stored.confirm()
    return request_id


async def _check_none_active(scope: TenantScope, convention_id: uuid.UUID) -> None:
    if any(
        r["status"] == RequestStatus.ACTIVE
        for r in await repository.requests_of(scope, convention_id)
    ):
        raise FieldError(
            "Une demande de signature est déjà en cours pour cette convention.", "request"
        )


async def _insert(
    scope: TenantScope,
    request_row: dict[str, Any],
    rows: list[dict[str, Any]],
    revisions: list[tuple[RevisionKind, str, str, int]],
    created: dict[str, Any],
    audit: Audit,
) -> None:
    request_id = request_row["id"]
    # Checked again holding the convention's row: a reopened review or a second request sent
    # at the same moment is refused, never a request on a text that is editable again.
    await convention_service.hold_frozen(scope, request_row["convention"])
    await _check_none_active(scope, request_row["convention"])
    await repository.insert_request(scope, request_row)
    async with repository.locked(scope, request_id) as locked:
        assert locked is not None
        for row in rows:
            account = await tenants_user_id(scope, row["email"])
            await repository.insert_participant(
                scope, {**row, "request": request_id, "user_id": account}
            )
        for number, (kind, storage_key, sha, size) in enumerate(revisions):
            await repository.insert_revision(
                scope,
                {
                    "request": request_id,
                    "number": number,
                    "kind": kind,
                    "storage_key": storage_key,
                    "sha256": sha,
                    "size": size,
                },
            )
        prepared_sha = revisions[-1][2]
        await chain.append(
            scope,
            request_id,
            EventKind.CREATED,
            audit=audit,
            document_sha256=prepared_sha,
            details=created,
        )
        await workflow.open_step(scope, locked, 1, prepared_sha, audit)


async def tenants_user_id(scope: TenantScope, email: str) -> uuid.UUID | None:
    """The member account behind an e-mail, so it sees the request on its home page."""
    for m in await tenants.members(scope):
        if m["email"].lower() == email and m["is_active"]:
            return uuid.UUID(str(m["user_id"]))
    return None


async def latest(opened: Opened) -> Row | None:
    found = await repository.requests_of(opened.ctx, opened.id)
    return found[0] if found else None


async def view(opened: Opened, request_id: uuid.UUID) -> dict[str, Any]:
    req = await repository.request(opened.ctx, request_id)
    if req is None or req["convention"] != opened.id:
        raise LookupError(request_id)
    people = await repository.participants(opened.ctx, request_id)
    return {
        "request": req,
        "status": RequestStatus(req["status"]),
        "participants": [
            {
                **p,
                "status_label": ParticipantStatus(p["status"]).label,
                "role_label": ParticipantRole(p["role"]).label,
            }
            for p in people
        ],
        "steps": sorted({p["step"] for p in people}),
        "revisions": await repository.revisions(opened.ctx, request_id),
        "events": [
            {**e, "label": EventKind(e["kind"]).label}
            for e in await repository.events(opened.ctx, request_id)
        ],
        "chain_break": await chain.check(opened.ctx, request_id),
    }


async def _locked_active(scope: TenantScope, request_id: uuid.UUID, req: Row | None) -> Row:
    if req is None:
        raise LookupError(request_id)
    if req["status"] != RequestStatus.ACTIVE:
        raise FieldError("Cette demande de signature n'est plus en cours.", "request")
    return req


async def _owned(opened: Opened, request_id: uuid.UUID) -> None:
    if not convention_service.may_edit(opened.ctx.role):
        raise PermissionError(opened.id)
    req = await repository.request(opened.ctx, request_id)
    if req is None or req["convention"] != opened.id:
        raise LookupError(request_id)


def _already_signed(people: list[Row]) -> list[Row]:
    """Who has signed or approved (a signature being applied counts: it was consented)."""
    done = {ParticipantStatus.SIGNED, ParticipantStatus.APPROVED, ParticipantStatus.SUBMITTED}
    return [p for p in workflow.acting(people) if p["status"] in done]


def _fingerprint(signed: list[Row]) -> str:
    """What the confirmation page showed: a signature made since then changes it."""
    return hashlib.sha256(",".join(sorted(p["id"].hex for p in signed)).encode()).hexdigest()[:32]


async def cancellation(opened: Opened, request_id: uuid.UUID) -> dict[str, Any]:
    """The confirmation page: who has already signed, before the pilot cancels."""
    await _owned(opened, request_id)
    req = await repository.request(opened.ctx, request_id)
    assert req is not None
    signed = _already_signed(await repository.participants(opened.ctx, request_id))
    return {
        "req": req,
        "active": req["status"] == RequestStatus.ACTIVE,
        "signed": signed,
        "fingerprint": _fingerprint(signed),
    }


async def cancel(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    request_id: uuid.UUID,
    reason: str,
    seen: str | None,
) -> None:
    """Only from the confirmation page: `seen` is its fingerprint of who had signed, so a
    pilot never cancels signatures they were not shown."""
    await _owned(opened, request_id)
    if seen is None:
        raise FieldError(
            "Confirmez l'annulation sur cette page : elle indique qui a déjà signé.", "signed"
        )
    if not reason:
        raise FieldError("Indiquez le motif de l'annulation.", "reason")
    scope = opened.ctx
    async with repository.locked(scope, request_id) as req:
        await _locked_active(scope, request_id, req)
        signed = _already_signed(await repository.participants(scope, request_id))
        if not security.same(seen, _fingerprint(signed)):
            raise FieldError(
                "Quelqu'un a signé depuis l'affichage de cette page : vérifiez la liste "
                "ci-dessous avant de confirmer l'annulation.",
                "signed",
            )
        names = [f"{p['name']} ({p['organisation_name']})" for p in signed]
        await workflow.close(
            scope,
            request_id,
            RequestStatus.CANCELLED,
            EventKind.CANCELLED,
            audit_of(actor, user.full_name),
            reason,
        )
        await convention_service.record(
            actor,
            opened,
            user,
            f"Demande de signature annulée. Motif : {reason}. Déjà signé : "
            f"{', '.join(names) or 'personne'}.",
            AuditTag.SIGNATURE_REQUEST_CANCELLED,
            request_id=str(request_id),
            reason=reason,
            signed=names,
        )
        for p in workflow.acting(await repository.participants(scope, request_id)):
            if p["status"] in (
                ParticipantStatus.PENDING,
                ParticipantStatus.SIGNED,
                ParticipantStatus.APPROVED,
            ):
                await jobs.enqueue_mail(scope, p["id"], "cancelled")


async def set_expiry(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    request_id: uuid.UUID,
    expires_on: dt.date,
) -> None:
    check_date(expires_on, "expires_on")
    await _owned(opened, request_id)
    scope = opened.ctx
    async with repository.locked(scope, request_id) as req:
        req = await _locked_active(scope, request_id, req)
        await repository.update_request(scope, request_id, {"expires_on": expires_on})
        await chain.append(
            scope,
            request_id,
            EventKind.EXPIRY_CHANGED,
            audit=audit_of(actor, user.full_name),
            details={"from": req["expires_on"].isoformat(), "to": expires_on.isoformat()},
        )


async def replace(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    request_id: uuid.UUID,
    participant_id: uuid.UUID,
    name: str,
    email: str,
    reason: str,
) -> uuid.UUID:
    """Someone else takes the participant's place (same step, same signature field)."""
    await _owned(opened, request_id)
    return await substitute(
        opened.ctx,
        request_id,
        participant_id,
        name,
        email,
        reason,
        audit_of(actor, user.full_name),
        EventKind.REPLACED,
        ParticipantStatus.REPLACED,
    )


async def substitute(
    scope: TenantScope,
    request_id: uuid.UUID,
    participant_id: uuid.UUID,
    name: str,
    email: str,
    reason: str,
    audit: Audit,
    kind: EventKind,
    old_status: ParticipantStatus,
) -> uuid.UUID:
    """Shared by the pilot's replacement and a signatory's delegation."""
    if not name:
        raise FieldError("Indiquez le prénom et le nom.", "name")
    try:
        email = validate_email(email, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise FieldError(
            "Adresse e-mail invalide, par exemple prenom.nom@exemple.fr.", "email"
        ) from exc
    if not reason:
        raise FieldError("Indiquez le motif.", "reason")
    async with repository.locked(scope, request_id) as req:
        req = await _locked_active(scope, request_id, req)
        old = await repository.participant(scope, participant_id)
        if old is None or old["request"] != request_id:
            raise LookupError(participant_id)
        if old["status"] not in (ParticipantStatus.WAITING, ParticipantStatus.PENDING):
            raise FieldError("Ce participant a déjà agi : il ne peut plus être remplacé.", "name")
        new_id = uuid.uuid4()
        row = {
            **{
                k: old[k]
                for k in (
                    "step",
                    "role",
                    "organisation",
                    "organisation_name",
                    "party_index",
                    "title",
                    "field_name",
                    "position",
                    "status",
                )
            },
            "id": new_id,
            "request": request_id,
            "name": name[:200],
            "email": email,
            "user_id": await tenants_user_id(scope, email),
            "token_nonce": secrets.token_hex(32),
            "delegated_from": participant_id,
        }
        row["token_hash"] = security.token_hash(workflow.token_for(row))
        await repository.insert_participant(scope, row)
        await repository.update_participant(
            scope,
            participant_id,
            {"status": old_status, "replaced_by": new_id, "replaced_reason": reason},
        )
        latest = await repository.latest_revision(scope, request_id)
        await chain.append(
            scope,
            request_id,
            kind,
            audit=audit,
            participant=new_id,
            document_sha256=latest["sha256"] if latest else "",
            details={
                "replaced": participant_id.hex,
                "from": old["email"],
                "to": email,
                "name": name,
                "reason": reason,
            },
        )
        if row["status"] == ParticipantStatus.PENDING:
            await jobs.enqueue_mail(scope, new_id, "invite", str(row["step"]))
    return new_id


async def remind(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    request_id: uuid.UUID,
    participant_id: uuid.UUID,
) -> None:
    """One manual reminder a day per person, on top of the scheduled ones."""
    await _owned(opened, request_id)
    scope = opened.ctx
    async with repository.locked(scope, request_id) as req:
        await _locked_active(scope, request_id, req)
        person = await repository.participant(scope, participant_id)
        if person is None or person["request"] != request_id:
            raise LookupError(participant_id)
        if person["status"] != ParticipantStatus.PENDING:
            raise FieldError("Seule une personne dont c'est le tour peut être relancée.", "remind")
        day = clock.today()
        if person["last_manual_reminder_on"] == day:
            raise FieldError(f"{person['name']} a déjà été relancé(e) aujourd'hui.", "remind")
        await repository.update_participant(scope, participant_id, {"last_manual_reminder_on": day})
        await chain.append(
            scope,
            request_id,
            EventKind.REMINDED,
            audit=audit_of(actor, user.full_name),
            participant=participant_id,
            details={"manual": True},
        )
        await jobs.enqueue_mail(scope, participant_id, "reminder", f"manual-{day}")
