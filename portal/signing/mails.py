"""E-mails to participants, sent by the `signing.send_mail` job (once per dedup key). Links
carry the participant's token, re-derived here: it is stored only as a hash."""

from __future__ import annotations

import uuid
from typing import Any

from portal.conventions import service as conventions
from portal.core import mail
from portal.core.templating import date_fr
from portal.core.tenancy import TenantScope
from portal.jobs import service as jobs
from portal.jobs.enums import Delivery
from portal.settings import get_settings
from portal.signing import repository, workflow
from portal.signing.enums import ParticipantRole, ParticipantStatus, RequestStatus
from portal.tenants import service as tenants


async def send(scope: TenantScope, participant_id: uuid.UUID, kind: str, key: str = "") -> None:
    person = await repository.participant(scope, participant_id)
    if person is None:
        return
    req = await repository.request(scope, person["request"])
    convention = await conventions.convention_of(scope, req["convention"]) if req else None
    found = await tenants.scope_and_consortium(scope.consortium_id)
    if req is None or convention is None or found is None:
        return
    status = ParticipantStatus(person["status"])
    # A reminder or an invitation that is no longer true is not sent.
    if kind in ("invite", "reminder") and (
        req["status"] != RequestStatus.ACTIVE or status != ParticipantStatus.PENDING
    ):
        return
    title = f"« {convention['title']} » ({convention['reference']})"
    verb = "approuver" if person["role"] == ParticipantRole.APPROVER else "signer"
    context: dict[str, Any] = {
        "name": person["name"],
        "consortium": found[1]["name"],
        "lines": [],
        "link": workflow.link_for(person),
        "link_label": "Ouvrir le document",
    }
    if kind == "invite":
        subject = f"À {verb} : {convention['title']}"
        context["intro"] = (
            f"{req['created_by_name']} vous invite à {verb} la convention {title}, "
            f"au nom de {person['organisation_name']}."
        )
        context["lines"] = [
            "Vous lirez le document, recevrez un code par e-mail puis confirmerez votre "
            f"signature. Demande valable jusqu'au {date_fr(req['expires_on'])}."
        ]
        if person["step"] in (req["external_steps"] or []):
            context["lines"] = [
                "Cette étape se signe avec votre propre outil (parapheur, certificat) : "
                "téléchargez le PDF depuis la page, signez-le sans le modifier, puis déposez-le."
            ]
    elif kind == "reminder":
        subject = f"Rappel : {convention['title']} attend votre signature"
        awaited = "approbation" if verb == "approuver" else "signature"
        context["intro"] = f"La convention {title} attend toujours votre {awaited}."
        context["lines"] = [f"La demande expire le {date_fr(req['expires_on'])}."]
    elif kind == "completed":
        subject = f"Convention signée : {convention['title']}"
        context["intro"] = f"La convention {title} est signée par toutes les parties."
        context["lines"] = [
            "Le PDF signé et son certificat de signature sont téléchargeables depuis ce lien."
        ]
        context["link_label"] = "Télécharger la convention signée"
    elif kind == "cancelled":
        subject = f"Signature annulée : {convention['title']}"
        context["intro"] = f"La demande de signature de la convention {title} a été annulée."
        context["lines"] = [f"Motif : {req['closed_reason']}"]
        context["link"] = ""
    else:
        raise ValueError(kind)
    message = mail.build_message(get_settings(), person["email"], subject, "signature", context)
    # The invitation carries the only way in for a signer without an account.
    policy = Delivery.AT_LEAST_ONCE if kind == "invite" else Delivery.AT_MOST_ONCE
    await jobs.deliver_once(f"signing:{kind}:{participant_id}:{key}", message, policy)
