"""The *certificat de signature*: a separate PDF (never appended to the signed file, which
would break its signatures) listing every participant, how each was identified, every event,
each revision's SHA-256 and the audit chain head; sealed like the convention."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from portal.conventions import service as conventions
from portal.core.pdf import html_to_pdf
from portal.core.templating import env
from portal.core.tenancy import TenantScope
from portal.signing import chain, files, repository
from portal.signing.enums import EventKind, ParticipantRole, ParticipantStatus, RevisionKind
from portal.signing.repository import Row
from portal.signing.seals import Seal
from portal.tenants import service as tenants

if TYPE_CHECKING:
    from pyhanko.sign.timestamps import TimeStamper


def _identification(p: Row, external_steps: list[int]) -> str:
    if p["step"] in external_steps and p["certificate_subject"]:
        qualified = " (le certificat se déclare qualifié)" if p["certificate_qualified"] else ""
        return (
            f"signature faite dans son propre outil avec le certificat « "
            f"{p['certificate_subject']} » émis par « {p['certificate_issuer']} »{qualified}"
        )
    if p["role"] == ParticipantRole.COPY:
        return "destinataire en copie, informé par e-mail"
    return f"code à usage unique envoyé à {p['email']} et saisi sur le portail"


def html(context: dict[str, Any]) -> str:
    return env.get_template("signing/certificate.html").render(context)


async def build(
    scope: TenantScope, req: Row, seal: Seal, stamper: TimeStamper | None, at: dt.datetime
) -> bytes:
    # pyHanko on first use (see portal.signing.seals)
    from portal.signing.pades.signing import seal_document

    convention = await conventions.convention_of(scope, req["convention"])
    found = await tenants.scope_and_consortium(scope.consortium_id)
    assert convention is not None and found is not None
    people = await repository.participants(scope, req["id"])
    context = {
        "consortium": found[1]["name"],
        "convention": convention,
        "request": req,
        "at": at,
        "seal": seal,
        "participants": [
            {
                **p,
                "role_label": ParticipantRole(p["role"]).label,
                "status_label": ParticipantStatus(p["status"]).label,
                "identification": _identification(p, req["external_steps"] or []),
            }
            for p in people
        ],
        "revisions": [
            {**r, "kind_label": RevisionKind(r["kind"]).label}
            for r in await repository.revisions(scope, req["id"])
        ],
        "events": [
            {**e, "label": EventKind(e["kind"]).label}
            for e in await repository.events(scope, req["id"])
        ],
        "head": await chain.head(scope, req["id"]),
    }
    document = await files.cpu(lambda: html_to_pdf(html(context)))
    return await files.cpu(
        lambda: seal_document(
            document,
            seal=seal,
            reason="Certificat de signature – dossier de preuve",
            timestamper=stamper,
        )
    )
