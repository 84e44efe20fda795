"""Kinds, statuses and the closed lists of the conventions domain, with their French labels."""

from enum import StrEnum


class ConventionKind(StrEnum):
    PARTNERSHIP = "partnership"  # convention de partenariat, bailleurs ↔ associations
    STATE = "state"  # convention d'objectifs avec les services de l'État

    @property
    def label(self) -> str:
        return {
            "partnership": "Convention de partenariat",
            "state": "Convention avec l'État",
        }[self.value]


class ConventionStatus(StrEnum):
    """Stored statuses. "En vigueur" and "échue" follow from the dates of a signed convention
    (see `lifecycle.display_status`), so they cannot drift from the calendar."""

    DRAFT = "draft"
    REVIEW = "review"
    READY = "ready"
    SIGNED = "signed"


class DisplayStatus(StrEnum):
    DRAFT = "draft"
    REVIEW = "review"
    READY = "ready"
    SIGNED = "signed"
    IN_FORCE = "in_force"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        return {
            "draft": "Brouillon",
            "review": "En relecture",
            "ready": "Prête à signer",
            "signed": "Signée",
            "in_force": "En vigueur",
            "expired": "Échue",
        }[self.value]


class Origin(StrEnum):
    INITIAL = "initial"
    AMENDMENT = "amendment"  # avenant
    RENEWAL = "renewal"


class PartyRole(StrEnum):
    LEAD_LESSOR = "lead_lessor"  # bailleur porteur: receives the subsidy
    LESSOR = "lessor"
    ASSOCIATION = "association"
    STATE = "state"
    COFUNDER = "cofunder"

    @property
    def label(self) -> str:
        return {
            "lead_lessor": "Bailleur porteur du projet",
            "lessor": "Bailleur",
            "association": "Association",
            "state": "Service de l'État",
            "cofunder": "Cofinanceur",
        }[self.value]


class ExpenseCategory(StrEnum):
    """Expense categories of the budget annex; the fund finances the first four only."""

    DIAGNOSTIC = "diagnostic"
    ACCOMPANIMENT = "accompaniment"
    GLA = "gla"
    ENGINEERING = "engineering"
    INVESTMENT = "investment"
    WORKS = "works"
    RENT_AID = "rent_aid"
    ORDINARY_MANAGEMENT = "ordinary_management"

    @property
    def label(self) -> str:
        return _EXPENSE_LABELS[self.value]

    @property
    def fundable(self) -> bool:
        """Whether the fund may finance it: the default of a line's "eligible" mark."""
        return self in {
            ExpenseCategory.DIAGNOSTIC,
            ExpenseCategory.ACCOMPANIMENT,
            ExpenseCategory.GLA,
            ExpenseCategory.ENGINEERING,
        }


_EXPENSE_LABELS = {
    "diagnostic": "Accompagnement social : diagnostics",
    "accompaniment": "Accompagnement social : suivi des ménages",
    "gla": "Gestion locative adaptée",
    "engineering": "Ingénierie, coordination et pilotage du projet",
    "investment": "Investissement (non financé par le fonds)",
    "works": "Travaux, aménagement, équipement (non financé par le fonds)",
    "rent_aid": "Aides au loyer (non financé par le fonds)",
    "ordinary_management": "Gestion locative ordinaire (non financé par le fonds)",
}


class Funder(StrEnum):
    STATE_FUND = "state_fund"  # FNAVDL, paid by the CGLLS
    LESSORS = "lessors"  # bailleurs' own share
    DEPARTEMENT = "departement"
    LOCAL_AUTHORITY = "local_authority"
    CAF = "caf"
    ARS = "ars"
    FOUNDATION = "foundation"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "state_fund": "État : fonds FNAVDL (versé par la CGLLS)",
            "lessors": "Fonds propres des bailleurs",
            "departement": "Département",
            "local_authority": "Collectivités (commune, EPCI, région)",
            "caf": "CAF",
            "ars": "ARS",
            "foundation": "Fondations",
            "other": "Autre financeur",
        }[self.value]


class IndicatorKind(StrEnum):
    ACHIEVEMENT = "achievement"  # réalisation
    RESULT = "result"
    IMPACT = "impact"
    QUALITATIVE = "qualitative"

    @property
    def label(self) -> str:
        return {
            "achievement": "Réalisation",
            "result": "Résultat",
            "impact": "Impact",
            "qualitative": "Qualitatif",
        }[self.value]


class SuggestionStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class RevisionAction(StrEnum):
    """What produced an article revision, for the history."""

    CREATED = "created"
    EDITED = "edited"
    SUGGESTION_ACCEPTED = "suggestion_accepted"
    REMOVED = "removed"

    @property
    def label(self) -> str:
        return {
            "created": "création",
            "edited": "modification",
            "suggestion_accepted": "proposition acceptée",
            "removed": "suppression",
        }[self.value]
