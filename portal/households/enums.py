"""Stable codes of the households domain (labels live in `templates/macros/labels.html`)."""

from enum import StrEnum


class Step(StrEnum):
    """Where a household stands in its current episode (see `portal.households.pathway`)."""

    ORIENTATION = "orientation"
    ENTRY = "entry"  # entrée validée: the household's agreement is recorded
    DIAGNOSTIC = "diagnostic"
    ACCOMPANIMENT = "accompaniment"
    SUSPENDED = "suspended"  # accompaniment paused, may resume
    EXIT = "exit"
    WATCH = "watch"  # maintien / veille after the exit

    @property
    def label(self) -> str:
        return {
            "orientation": "Orientation",
            "entry": "Entrée validée",
            "diagnostic": "Diagnostic",
            "accompaniment": "Accompagnement",
            "suspended": "Accompagnement suspendu",
            "exit": "Sortie",
            "watch": "Maintien / veille",
        }[self.value]


class OrientationSource(StrEnum):
    SIAO = "siao"
    DALO = "dalo"  # commission DALO
    COMPLEX_CASES = "complex_cases"  # commission « situations complexes »
    LESSOR = "lessor"  # the bailleur, for its own tenant
    ASSOCIATION = "association"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "siao": "SIAO",
            "dalo": "Commission DALO",
            "complex_cases": "Commission « situations complexes »",
            "lessor": "Bailleur, pour son locataire",
            "association": "Association",
            "other": "Autre",
        }[self.value]


class ExitReason(StrEnum):
    REHOUSED = "rehoused"  # relogé durablement
    COMMON_LAW = "common_law"  # relais vers le droit commun
    END_OF_SUPPORT = "end_of_support"
    REFUSAL = "refusal"
    LOST_CONTACT = "lost_contact"
    OTHER = "other"

    @property
    def label(self) -> str:
        return {
            "rehoused": "Relogé durablement",
            "common_law": "Relais vers le droit commun",
            "end_of_support": "Fin de prise en charge",
            "refusal": "Refus",
            "lost_contact": "Perte de contact",
            "other": "Autre",
        }[self.value]


# Exits the indicators count as positive.
POSITIVE_EXITS = frozenset({ExitReason.REHOUSED, ExitReason.COMMON_LAW})


class Occupancy(StrEnum):
    HOSTED = "hosted"  # hébergé
    INTERMEDIATE = "intermediate"  # logement intermédiaire
    SUBLETTING = "subletting"  # sous-location, bail glissant in view
    TENANT = "tenant"  # locataire en titre
    WITHOUT_TITLE = "without_title"  # occupant sans titre

    @property
    def label(self) -> str:
        return {
            "hosted": "Hébergé",
            "intermediate": "Logement intermédiaire",
            "subletting": "Sous-location (bail glissant visé)",
            "tenant": "Locataire en titre",
            "without_title": "Occupant sans titre",
        }[self.value]


class HomeType(StrEnum):
    T1 = "t1"
    T2 = "t2"
    T3 = "t3"
    T4 = "t4"
    T5 = "t5"  # T5 and more

    @property
    def label(self) -> str:
        return {
            "t1": "T1",
            "t2": "T2",
            "t3": "T3",
            "t4": "T4",
            "t5": "T5 et plus",
        }[self.value]


class ConsentState(StrEnum):
    GIVEN = "given"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return {
            "given": "Donné",
            "refused": "Refusé",
            "withdrawn": "Retiré",
        }[self.value]


class AlertKind(StrEnum):
    UNPAID_RENT = "unpaid_rent"  # bailleur → association
    NEIGHBOURHOOD = "neighbourhood"  # bailleur → association
    DAMAGE = "damage"  # bailleur → association
    TECHNICAL = "technical"  # association → bailleur
    NO_ANSWER = "no_answer"  # either way
    SUPPORT_BREAK = "support_break"  # either way
    OTHER = "other"  # either way

    @property
    def label(self) -> str:
        return {
            "unpaid_rent": "Impayé de loyer",
            "neighbourhood": "Troubles de voisinage",
            "damage": "Dégradations",
            "technical": "Problème technique dans le logement",
            "no_answer": "Absence de réponse du ménage",
            "support_break": "Rupture d'accompagnement",
            "other": "Autre",
        }[self.value]


class Part(StrEnum):
    """What of a household a reader may see (the matrix in `portal.households.visibility`)."""

    PATHWAY = "pathway"  # steps, dates, exit category
    OCCUPANCY = "occupancy"
    NAME = "name"  # reference person, composition
    CONTACT = "contact"  # telephone, e-mail, home address
    FOLLOW_UP = "follow_up"  # reasons of transitions, motives, notes, procedures
    DIAGNOSTIC = "diagnostic"  # every section, private ones included
    SHARED_SYNTHESIS = "shared_synthesis"  # the housing synthesis, under a live consent
    ALERTS = "alerts"
    CONSENTS = "consents"
    READ_LOG = "read_log"

    @property
    def label(self) -> str:
        return {
            "pathway": "Pseudonyme, parcours et dates",
            "occupancy": "Statut d'occupation",
            "name": "Nom de la personne de référence, composition du ménage",
            "contact": "Coordonnées et adresse du logement",
            "follow_up": "Motifs, notes de suivi, procédures",
            "diagnostic": "Diagnostic complet (sections privées comprises)",
            "shared_synthesis": "Synthèse logement transmise (sous consentement en cours)",
            "alerts": "Alertes entre partenaires",
            "consents": "Consentements et autorisations signées",
            "read_log": "Journal des consultations",
        }[self.value]


class Relation(StrEnum):
    """How a member stands towards one household: follows the role in the project, not the
    kind of organisation (an association may also be a landlord)."""

    FOLLOWER = "follower"  # association staff of the following association
    FOLLOWER_MANAGER = "follower_manager"  # … habilité(e) à signer for it: its manager
    LANDLORD = "landlord"  # bailleur staff of the landlord of the home
    PILOT_LANDLORD = "pilot_landlord"  # the pilot, its organisation being the landlord
    PILOT = "pilot"
    AGGREGATE = "aggregate"  # State, finance, read-only: counts only
    NONE = "none"  # another association or bailleur: the household does not exist for it

    @property
    def label(self) -> str:
        return {
            "follower": "Association qui suit le ménage",
            "follower_manager": "Responsable de cette association (habilité à signer)",
            "landlord": "Bailleur du logement (référent GLA)",
            "pilot_landlord": "Pilote, quand son organisation est le bailleur",
            "pilot": "Pilote",
            "aggregate": "État, finances, lecture seule",
            "none": "Autre association, autre bailleur",
        }[self.value]


class Read(StrEnum):
    """What a read-log row says was read."""

    IDENTITY = "identity"
    SECTION = "section"  # a diagnostic section (its code beside)
    SHARED_SYNTHESIS = "shared_synthesis"  # the bailleur reading a transmission
    ALERT = "alert"
    NOTE = "note"
    EVIDENCE = "evidence"  # a consent's signed authorisation (a household's justificatif)
    READ_LOG = "read_log"
