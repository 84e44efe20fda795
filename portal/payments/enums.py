"""Kinds, bases, triggers and statuses of the payments domain, with their French labels."""

from __future__ import annotations

from enum import StrEnum


class ScheduleKind(StrEnum):
    SUBSIDY = "subsidy"  # a funder pays: the State fund through the CGLLS, or a co-funder
    REPAYMENT = "repayment"  # a bailleur passes an association its share (reversement)

    @property
    def label(self) -> str:
        return {"subsidy": "Subvention", "repayment": "Reversement"}[self.value]


class Basis(StrEnum):
    """How a line's amount is known."""

    FIXED = "fixed"  # set in the schedule
    RESULTS = "results"  # results declared × agreed unit cost (households accompanied…)
    EXPENSES = "expenses"  # justified expenses declared × agreed rate

    @property
    def label(self) -> str:
        return {
            "fixed": "Montants fixés à l'avance",
            "results": "Selon les résultats (quantité × coût unitaire)",
            "expenses": "Selon les dépenses justifiées",
        }[self.value]


class Trigger(StrEnum):
    """What makes a line payable (prévu → exigible / dû)."""

    SIGNATURE = "signature"  # the convention is signed
    DOCUMENT = "document"  # a requested document is validated (report, bilan…)
    INSTALLMENT = "installment"  # another line was received (a subsidy installment)
    DATE = "date"  # its expected date has come
    MANUAL = "manual"  # recorded by the pilot or finance, with a note

    @property
    def label(self) -> str:
        return {
            "signature": "à la signature de la convention",
            "document": "à la validation d'une pièce",
            "installment": "à la réception d'un versement de la subvention",
            "date": "à la date prévue",
            "manual": "sur constat du pilote ou des finances",
        }[self.value]


class LineStatus(StrEnum):
    """planned → due → (requested, subsidies only) → partial → paid. See `lifecycle`."""

    PLANNED = "planned"
    DUE = "due"
    REQUESTED = "requested"
    PARTIAL = "partial"
    PAID = "paid"

    def label(self, kind: ScheduleKind | str) -> str:
        subsidy = kind == ScheduleKind.SUBSIDY
        return {
            "planned": "Prévu",
            "due": "Exigible" if subsidy else "Dû",
            "requested": "Demandé",
            "partial": "Versé en partie" if subsidy else "Payé en partie",
            "paid": "Versé" if subsidy else "Payé",
        }[self.value]

    @property
    def either_label(self) -> str:
        """For filters spanning subsidies and reversements."""
        return {
            "planned": "Prévu",
            "due": "Exigible ou dû",
            "requested": "Demandé",
            "partial": "Versé en partie",
            "paid": "Versé ou payé",
        }[self.value]


class PaymentWarning(StrEnum):
    """What a payment may do wrong; recorded only once confirmed with a reason."""

    OVERPAYMENT = "overpayment"  # more than what remains due on the line
    NOT_DUE = "not_due"  # its condition is not met yet
    NOT_RECEIVED = "not_received"  # passes on more than the payer has received
    BEFORE_SIGNATURE = "before_signature"  # dated before the convention was signed

    @property
    def label(self) -> str:
        return {
            "overpayment": "montant supérieur au reste dû",
            "not_due": "échéance pas encore exigible",
            "not_received": "reversement supérieur à la subvention reçue",
            "before_signature": "versement antérieur à la signature",
        }[self.value]


class ExportFormat(StrEnum):
    CSV = "csv"
    XLSX = "xlsx"


class ExportStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def label(self) -> str:
        return {
            "pending": "En attente",
            "running": "En cours",
            "done": "Prêt",
            "failed": "Échec",
        }[self.value]
