"""The `signing.apply` job: applies submitted signatures one after another, each to the latest
revision, then completes the request. Idempotent and safe to run twice at once: the PDF work
happens outside the lock, and a result is kept only if the revision it started from is still
the latest (otherwise it starts again from the new one). Without its time-stamp a signature is
not written: the job fails and is retried until the authority answers."""

from __future__ import annotations

import base64
import uuid

from portal.conventions import service as conventions
from portal.core import clock
from portal.core.tenancy import TenantScope
from portal.notifications import service as notifications
from portal.signing import certificate, chain, files, jobs, keys, repository, workflow
from portal.signing.chain import Audit
from portal.signing.enums import (
    EventKind,
    ParticipantRole,
    ParticipantStatus,
    RequestStatus,
    RevisionKind,
)
from portal.signing.pades.errors import TimestampUnavailable
from portal.signing.pades.marks import Mark
from portal.signing.repository import Row
from portal.tenants import service as tenants

SYSTEM = Audit(actor="Portail (cachet électronique)")


class Waiting(RuntimeError):
    """The time-stamping authority did not answer: the job is retried later."""


async def run(scope: TenantScope, request_id: uuid.UUID) -> None:
    for _ in range(100):  # bounded: each turn either applies one signature or returns
        req = await repository.request(scope, request_id)
        if req is None or req["status"] != RequestStatus.ACTIVE:
            return
        people = await repository.participants(scope, request_id)
        queue = sorted(
            (
                p
                for p in people
                if p["status"] == ParticipantStatus.SUBMITTED and p["step"] == req["current_step"]
            ),
            key=lambda p: (p["submitted_at"], p["position"]),
        )
        if queue:
            await _apply_one(scope, req, queue[0])
            continue
        if req["closing"] == "pending":
            await _finish(scope, req)
        return


def stamp_mark(person: Row) -> Mark | None:
    """The mark chosen at the ceremony (checked there) as the stamp shows it."""
    if person["mark_kind"] == "drawn":
        _, _, data = person["mark_image"].partition(",")
        return Mark(png=base64.b64decode(data))
    if person["mark_kind"] == "typed":
        return Mark(text=person["mark_text"])
    return None


def _timestamper(req: Row):  # type: ignore[no-untyped-def]
    stamper = keys.timestamper()
    if req["timestamped"] and stamper is None:
        raise Waiting("autorité d'horodatage retirée de la configuration")
    return stamper


async def _record_wait(
    scope: TenantScope, req: Row, participant: uuid.UUID | None, why: str
) -> None:
    async with repository.locked(scope, req["id"]):
        last = await repository.last_event(scope, req["id"])
        if last is None or last["kind"] != EventKind.TIMESTAMP_PENDING:  # once per outage
            latest = await repository.latest_revision(scope, req["id"])
            await chain.append(
                scope,
                req["id"],
                EventKind.TIMESTAMP_PENDING,
                audit=SYSTEM,
                participant=participant,
                document_sha256=latest["sha256"] if latest else "",
                details={"error": why[:300]},
            )


async def _apply_one(scope: TenantScope, req: Row, person: Row) -> None:
    # pyHanko on first use (see portal.signing.seals)
    from portal.signing import authority
    from portal.signing.pades.signing import sign_field

    latest = await repository.latest_revision(scope, req["id"])
    assert latest is not None
    data = await files.get(latest["storage_key"], latest["sha256"])
    seal = await keys.seal(scope)
    convention = await conventions.convention_of(scope, req["convention"])
    assert convention is not None
    at = clock.now()
    stamper = _timestamper(req)
    context = authority.validation_context(seal.trust_roots, seal.crls) if stamper else None
    try:
        signed = await files.cpu(
            lambda: sign_field(
                data,
                field_name=person["field_name"],
                seal=seal,
                signer_name=person["name"],
                organisation=person["organisation_name"],
                reason=f"Signature de la convention {convention['reference']} – identité "
                f"vérifiée par code envoyé à {person['email']}",
                location="Portail partenariats Hlm",
                signed_at=at,
                timestamper=stamper,
                validation_context=context,
                mark=stamp_mark(person),
            )
        )
    except TimestampUnavailable as exc:
        await _record_wait(scope, req, person["id"], exc.message)
        raise Waiting(exc.message) from exc
    number = latest["number"] + 1
    sha = files.sha256(signed)
    key = files.revision_key(scope.consortium_id, req["id"], number, sha)
    async with (
        files.stored(key, signed, scope.consortium_id) as stored,
        repository.locked(scope, req["id"]) as fresh,
    ):
        current = await repository.latest_revision(scope, req["id"])
        still = await repository.participant(scope, person["id"])
        if (
            fresh is None
            or fresh["status"] != RequestStatus.ACTIVE
            or current is None
            or current["number"] != latest["number"]
            or still is None
            or still["status"] != ParticipantStatus.SUBMITTED
        ):
            return  # someone else moved first (the object is dropped): start from the new state
        await repository.insert_revision(
            scope,
            {
                "request": req["id"],
                "number": number,
                "kind": RevisionKind.SIGNATURE,
                "participant": person["id"],
                "storage_key": key,
                "sha256": sha,
                "size": len(signed),
            },
        )
        await repository.update_participant(
            scope,
            person["id"],
            {"status": ParticipantStatus.SIGNED, "done_at": at, "revision": number},
        )
        await chain.append(
            scope,
            req["id"],
            EventKind.SIGNED,
            audit=Audit(actor=person["name"], ip=person["ip"], user_agent=person["user_agent"]),
            participant=person["id"],
            document_sha256=sha,
            details={
                "field": person["field_name"],
                "revision": number,
                "seal": seal.label,
                "timestamped": stamper is not None,
                "mark": person["mark_kind"],
            },
        )
        await workflow.advance(scope, req["id"], SYSTEM)
        await stored.confirm()


async def _finish(scope: TenantScope, req: Row) -> None:
    """Closing document time-stamp (when an authority is configured), sealed certificate,
    convention marked signed, everyone told."""
    # pyHanko on first use (see portal.signing.seals)
    from portal.signing import authority
    from portal.signing.pades.signing import timestamp_document

    latest = await repository.latest_revision(scope, req["id"])
    assert latest is not None
    seal = await keys.seal(scope)
    stamper = _timestamper(req)
    if stamper is not None and latest["kind"] != RevisionKind.DOCUMENT_TIMESTAMP:
        data = await files.get(latest["storage_key"], latest["sha256"])
        context = authority.validation_context(seal.trust_roots, seal.crls)
        try:
            closed = await files.cpu(
                lambda: timestamp_document(data, timestamper=stamper, validation_context=context)
            )
        except TimestampUnavailable as exc:
            await _record_wait(scope, req, None, exc.message)
            raise Waiting(exc.message) from exc
        number = latest["number"] + 1
        sha = files.sha256(closed)
        key = files.revision_key(scope.consortium_id, req["id"], number, sha)
        async with (
            files.stored(key, closed, scope.consortium_id) as stored,
            repository.locked(scope, req["id"]) as fresh,
        ):
            current = await repository.latest_revision(scope, req["id"])
            if fresh is None or current is None or current["number"] != latest["number"]:
                return
            await repository.insert_revision(
                scope,
                {
                    "request": req["id"],
                    "number": number,
                    "kind": RevisionKind.DOCUMENT_TIMESTAMP,
                    "storage_key": key,
                    "sha256": sha,
                    "size": len(closed),
                },
            )
            await stored.confirm()
        latest = await repository.latest_revision(scope, req["id"])
        assert latest is not None
    at = clock.now()
    sealed = await certificate.build(scope, req, seal, stamper, at)
    cert_sha = files.sha256(sealed)
    cert_key = files.certificate_key(scope.consortium_id, req["id"], cert_sha)
    async with (
        files.stored(cert_key, sealed, scope.consortium_id) as stored,
        repository.locked(scope, req["id"]) as fresh,
    ):
        if (
            fresh is None
            or fresh["status"] != RequestStatus.ACTIVE
            or fresh["closing"] != "pending"
        ):
            return
        current = await repository.latest_revision(scope, req["id"])
        if current is None or current["number"] != latest["number"]:
            return
        await repository.update_request(
            scope,
            req["id"],
            {
                "status": RequestStatus.COMPLETED,
                "closing": "",
                "completed_at": at,
                "certificate_key": cert_key,
                "certificate_sha256": cert_sha,
            },
        )
        await chain.append(
            scope,
            req["id"],
            EventKind.COMPLETED,
            audit=SYSTEM,
            document_sha256=latest["sha256"],
            details={"certificate_sha256": cert_sha, "revisions": latest["number"] + 1},
        )
        await conventions.mark_signed(scope, req["convention"], req["version"], at)
        await _announce(scope, req)
        await stored.confirm()


async def _announce(scope: TenantScope, req: Row) -> None:
    """Every participant by e-mail (with their own download link), every member of the parties
    by notification."""
    people = await repository.participants(scope, req["id"])
    for p in people:
        if ParticipantStatus(p["status"]).gone:
            continue
        if p["role"] == ParticipantRole.COPY:
            await repository.update_participant(
                scope, p["id"], {"status": ParticipantStatus.NOTIFIED}
            )
        await jobs.enqueue_mail(scope, p["id"], "completed")
    convention = await conventions.convention_of(scope, req["convention"])
    found = await tenants.scope_and_consortium(scope.consortium_id)
    if convention is None or found is None:
        return
    members: set[uuid.UUID] = set(await tenants.active_pilots(scope))
    for organisation in {p["organisation"] for p in people if p["organisation"]}:
        members.update(await tenants.active_members_of(scope, organisation))
    await notifications.notify(
        sorted(members),
        kind="signature",
        title=f"Convention signée : « {convention['title']} »",
        body=f"{convention['reference']} est signée par toutes les parties. Le PDF signé et son "
        "certificat de signature sont disponibles.",
        link=f"/c/{found[1]['slug']}/conventions/{convention['id']}/signature",
        subject=f"signature:{req['id']}",
        consortium_id=scope.consortium_id,
    )
