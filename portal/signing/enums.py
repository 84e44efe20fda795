"""States and kinds of the signing domain, with their French labels."""

from __future__ import annotations

from enum import StrEnum


class RequestStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return {
            "active": "En cours",
            "completed": "Terminée : convention signée",
            "declined": "Refusée par un signataire",
            "cancelled": "Annulée",
            "expired": "Expirée",
        }[self.value]


class ParticipantRole(StrEnum):
    SIGNER = "signer"
    APPROVER = "approver"  # validates without signing
    COPY = "copy"  # receives the signed document

    @property
    def label(self) -> str:
        return {"signer": "Signataire", "approver": "Approbateur", "copy": "Destinataire en copie"}[
            self.value
        ]


class ParticipantStatus(StrEnum):
    WAITING = "waiting"  # their step is not open yet
    PENDING = "pending"  # their turn: must act
    SUBMITTED = "submitted"  # consented; the signature is being applied (time-stamp included)
    SIGNED = "signed"
    APPROVED = "approved"
    DECLINED = "declined"
    REPLACED = "replaced"
    DELEGATED = "delegated"
    NOTIFIED = "notified"  # copy recipients, once told

    @property
    def label(self) -> str:
        return {
            "waiting": "En attente de l'étape précédente",
            "pending": "À signer",
            "submitted": "Signature en cours d'application",
            "signed": "Signé",
            "approved": "Approuvé",
            "declined": "Refusé",
            "replaced": "Remplacé",
            "delegated": "Délégué",
            "notified": "Informé",
        }[self.value]

    @property
    def done(self) -> bool:
        return self in {
            ParticipantStatus.SIGNED,
            ParticipantStatus.APPROVED,
            ParticipantStatus.NOTIFIED,
        }

    @property
    def gone(self) -> bool:
        """No longer part of the request (someone else acts in their place)."""
        return self in {ParticipantStatus.REPLACED, ParticipantStatus.DELEGATED}


class RevisionKind(StrEnum):
    FROZEN = "frozen"
    FIELDS = "fields"
    SIGNATURE = "signature"
    EXTERNAL = "external"
    DOCUMENT_TIMESTAMP = "document_timestamp"

    @property
    def label(self) -> str:
        return {
            "frozen": "Version figée",
            "fields": "Champs de signature ajoutés",
            "signature": "Signature",
            "external": "Signature externe déposée",
            "document_timestamp": "Horodatage final du document",
        }[self.value]


class EventKind(StrEnum):
    CREATED = "created"
    SENT = "sent"
    OPENED = "opened"
    CODE_SENT = "code_sent"
    CODE_CHECKED = "code_checked"
    CODE_FAILED = "code_failed"
    CODE_CAPPED = "code_capped"
    SIGNED = "signed"
    APPROVED = "approved"
    EXTERNAL_SIGNED = "external_signed"
    EXTERNAL_REJECTED = "external_rejected"
    DECLINED = "declined"
    DELEGATED = "delegated"
    REMINDED = "reminded"
    REPLACED = "replaced"
    EXPIRY_CHANGED = "expiry_changed"
    CANCELLED = "cancelled"
    COMPLETED = "completed"
    EXPIRED = "expired"
    TIMESTAMP_PENDING = "timestamp_pending"

    @property
    def label(self) -> str:
        return {
            "created": "Demande créée",
            "sent": "Invitation envoyée",
            "opened": "Document ouvert",
            "code_sent": "Code envoyé par e-mail",
            "code_checked": "Code vérifié",
            "code_failed": "Code erroné",
            "code_capped": "Trop de codes demandés : lien bloqué un moment",
            "signed": "Signature apposée",
            "approved": "Approbation",
            "external_signed": "Signature externe acceptée",
            "external_rejected": "Fichier signé refusé",
            "declined": "Refus de signer",
            "delegated": "Délégation",
            "reminded": "Relance",
            "replaced": "Signataire remplacé",
            "expiry_changed": "Date d'expiration modifiée",
            "cancelled": "Demande annulée",
            "completed": "Demande terminée",
            "expired": "Demande expirée",
            "timestamp_pending": "Horodatage indisponible, nouvel essai prévu",
        }[self.value]
