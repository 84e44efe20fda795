"""Consent as an object: purpose, scope (diagnostic sections), recipients, who collected it
and when, the signed authorisation as evidence (sealed in storage, with the SHA-256 of the
original), a state (given, refused, withdrawn) and an expiry.

It is checked on every read of a shared section, not when sharing only: a refusal, a
withdrawal or an expiry stops sharing at once. A transmission to the bailleur is a recorded
act naming the consent it used, and holds the housing synthesis as it was sent."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import anyio

from portal.core import antivirus, clock
from portal.core.db import transaction
from portal.core.forms import FieldError, check_date
from portal.core.outage import Unavailable
from portal.core.storage import get_storage
from portal.documents import service as documents
from portal.documents.service import ReceivedFile, UploadRefused
from portal.households import reads, repository
from portal.households.access import Opened, require
from portal.households.contact import touch
from portal.households.diagnostic import SYNTHESIS, grid, synthesis_text
from portal.households.enums import ConsentState, Part, Read
from portal.objects import service as objects
from portal.tenants import service as tenants

OWNER = "households"
EVIDENCE_TYPES = {"pdf", "png", "jpeg"}


def live(consent: dict[str, Any], organisation: uuid.UUID, section: str, today: dt.date) -> bool:
    """Whether `consent` lets `section` reach `organisation` today."""
    return (
        consent["state"] == ConsentState.GIVEN
        and (consent["expires_on"] is None or consent["expires_on"] >= today)
        and str(organisation) in consent["recipients"]
        and section in consent["sections"]
    )


async def record(
    opened: Opened, values: dict[str, Any], received: ReceivedFile | None
) -> uuid.UUID:
    """A consent given or refused, with its evidence. Raises `FieldError` or `UploadRefused`;
    nothing stays stored when refused."""
    try:
        if not opened.follows:
            raise PermissionError("consent")
        await _check(opened, values)
        if values["state"] == ConsentState.GIVEN and received is None:
            raise UploadRefused(
                "Joignez l'autorisation signée par le ménage (PDF ou photo).", "evidence"
            )
        consent_id = uuid.uuid4()
        row = {
            "id": consent_id,
            "household": opened.id,
            "purpose": values["purpose"],
            "sections": values["sections"],
            "recipients": [str(r) for r in values["recipients"]],
            "siao_copied": values["siao_copied"],
            "state": values["state"],
            "collected_by": opened.ctx.user_id,
            "collected_on": values["collected_on"],
            "expires_on": values["expires_on"],
        }
        if received is None:
            async with transaction():
                await repository.insert_consent(opened.ctx, row)
                await touch(opened.ctx, opened.id)
            return consent_id
        sealed, file_type = await _sealed_evidence(opened, consent_id, received)
        key = f"households/{opened.ctx.consortium_id}/{opened.id}/consents/{consent_id.hex}"
        try:
            async with objects.stored_bytes(
                key,
                sealed,
                "application/octet-stream",
                owner=OWNER,
                consortium_id=opened.ctx.consortium_id,
            ) as handle:
                async with transaction():
                    await repository.insert_consent(
                        opened.ctx,
                        {
                            **row,
                            "evidence_key": key,
                            "evidence_sha256": received.sha256,
                            "evidence_type": file_type.code,
                        },
                    )
                    await touch(opened.ctx, opened.id)
                    await handle.confirm()
        except Unavailable as exc:
            raise UploadRefused(exc.message, "evidence", status_code=503) from exc
        return consent_id
    finally:
        if received is not None:
            received.discard()


async def _check(opened: Opened, values: dict[str, Any]) -> None:
    check_date(values["collected_on"], "collected_on")
    if values["expires_on"] is not None:
        check_date(values["expires_on"], "expires_on")
        if values["expires_on"] <= values["collected_on"]:
            raise FieldError("L'échéance suit la date du recueil.", "expires_on")
    codes = {s.code for s in await grid(opened.ctx)}
    if not values["sections"] or not set(values["sections"]) <= codes:
        raise FieldError("Cochez les sections du diagnostic concernées.", "sections")
    if not values["recipients"]:
        raise FieldError("Cochez au moins un destinataire.", "recipients")
    known = {o["id"] for o in await tenants.organisations(opened.ctx)}
    if not set(values["recipients"]) <= known:
        raise FieldError("Choisissez des destinataires du consortium.", "recipients")


async def _sealed_evidence(
    opened: Opened, consent_id: uuid.UUID, received: ReceivedFile
) -> tuple[bytes, Any]:
    """The scan names the household: it is sealed before it leaves for storage, and its
    original name is not kept."""
    file_type = await anyio.to_thread.run_sync(documents.inspect_file, received)
    if file_type.code not in EVIDENCE_TYPES:
        raise UploadRefused(
            "L'autorisation signée doit être un PDF ou une photo (PNG, JPEG).", "evidence"
        )
    try:
        await antivirus.scan(received.path)
    except antivirus.ScanRefused as exc:
        raise UploadRefused(exc.message, "evidence") from exc
    data = await anyio.Path(received.path).read_bytes()
    sealer = await opened.sealer()
    return sealer.seal_bytes(opened.id, f"evidence:{consent_id}", data), file_type


async def withdraw(opened: Opened, consent_id: uuid.UUID, on: dt.date) -> None:
    """The household withdraws its consent: every transmission made under it stops being
    readable at once."""
    if not opened.follows:
        raise PermissionError("consent")
    check_date(on, "withdrawn_on")
    async with transaction():
        if not await repository.withdraw_consent(opened.ctx, opened.id, consent_id, on):
            raise FieldError("Ce consentement n'est plus en cours.", "withdrawn_on")
        await touch(opened.ctx, opened.id)


async def listing(opened: Opened) -> list[dict[str, Any]]:
    require(opened, Part.CONSENTS)
    today = clock.today()
    rows = await repository.consents(opened.ctx, opened.id)
    for row in rows:
        row["expired"] = row["expires_on"] is not None and row["expires_on"] < today
        row["in_force"] = row["state"] == ConsentState.GIVEN and not row["expired"]
    return rows


async def transmit(opened: Opened, consent_id: uuid.UUID) -> uuid.UUID:
    """Sends the housing synthesis, as it is now, to the bailleur of the home, under a live
    consent naming it."""
    if not opened.follows:
        raise PermissionError("transmit")
    lessor = opened.row["lessor"]
    if lessor is None:
        raise FieldError("Le ménage n'a pas encore de bailleur : rien à transmettre.", "consent")
    consent = await repository.consent(opened.ctx, opened.id, consent_id)
    if consent is None or not live(consent, lessor, SYNTHESIS, clock.today()):
        raise FieldError(
            "Ce consentement ne permet pas de transmettre la synthèse logement à ce bailleur "
            "(refusé, retiré, échu, ou ne le nomme pas).",
            "consent",
        )
    text = await synthesis_text(opened)
    if not text:
        raise FieldError("Rédigez d'abord la synthèse logement du diagnostic.", "consent")
    sealer = await opened.sealer()
    transmission_id = uuid.uuid4()
    async with transaction():
        await repository.insert_transmission(
            opened.ctx,
            {
                "id": transmission_id,
                "household": opened.id,
                "consent": consent_id,
                "recipient": lessor,
                "section": SYNTHESIS,
                "sealed": sealer.seal(opened.id, f"transmission:{transmission_id}", text),
                "by": opened.ctx.user_id,
            },
        )
    return transmission_id


async def transmissions(opened: Opened) -> list[dict[str, Any]]:
    """The acts of transmission (not their text), for the association."""
    require(opened, Part.CONSENTS)
    rows = await repository.transmissions(opened.ctx, opened.id)
    for row in rows:
        del row["sealed"]
    return rows


async def shared_with_me(opened: Opened, log: reads.Reads) -> dict[str, Any] | None:
    """What the bailleur may read: the last synthesis sent to its organisation under a consent
    that is live today, or nothing. Checked at every read."""
    if not opened.houses:
        return None
    organisation = opened.ctx.organisation_id
    consents = {c["id"]: c for c in await repository.consents(opened.ctx, opened.id)}
    today = clock.today()
    for row in await repository.transmissions(opened.ctx, opened.id):
        consent = consents.get(row["consent"])
        if row["recipient"] != organisation or consent is None:
            continue
        if not live(consent, organisation, row["section"], today):
            continue
        sealer = await opened.sealer()
        log.add(opened.id, opened.pseudonym, Read.SHARED_SYNTHESIS, row["section"], consent["id"])
        return {
            "text": sealer.open(opened.id, f"transmission:{row['id']}", row["sealed"]),
            "at": row["at"],
            "consent": consent,
        }
    return None


async def evidence(
    opened: Opened, consent_id: uuid.UUID, log: reads.Reads
) -> tuple[str, str, bytes]:
    """The signed authorisation (file name, content type, bytes), for the association."""
    require(opened, Part.CONSENTS)
    consent = await repository.consent(opened.ctx, opened.id, consent_id)
    if consent is None or not consent["evidence_key"]:
        raise LookupError(consent_id)
    chunks = await get_storage().open(consent["evidence_key"])
    sealed = b"".join([chunk async for chunk in chunks])
    sealer = await opened.sealer()
    data = sealer.open_bytes(opened.id, f"evidence:{consent_id}", sealed)
    log.add(opened.id, opened.pseudonym, Read.EVIDENCE, str(consent_id))
    kind = consent["evidence_type"]
    extension = {"pdf": "pdf", "png": "png", "jpeg": "jpg"}.get(kind, "bin")
    content_type = {"pdf": "application/pdf", "png": "image/png", "jpeg": "image/jpeg"}.get(
        kind, "application/octet-stream"
    )
    return f"autorisation-{opened.pseudonym}.{extension}", content_type, data
