"""Who sees what of a household: the one rule, shown on *Rôles et droits*.

A member's relation to a household follows its role in the project and its organisation's
place in that household's file (which association follows it, whose home it lives in), never
the kind of organisation. Every read of a household's data goes through `parts_for`.

| relation          | sees                                                              |
|-------------------|-------------------------------------------------------------------|
| follower          | the whole file (its manager also the read log)                    |
| landlord          | identity, contact, pathway, occupancy, alerts; the housing        |
|                   | synthesis only under a live consent naming its organisation       |
| pilot_landlord    | pseudonym, pathway, occupancy, and the name                       |
| pilot             | pseudonym, pathway, occupancy                                     |
| aggregate         | counts only, cells under 5 households shown as « < 5 »            |
| none              | nothing: the household does not exist for it (404)                |
"""

from __future__ import annotations

import uuid
from typing import Any

from portal.core.permissions import Role
from portal.households.enums import Part, Relation

_FOLLOWER = frozenset(Part) - {Part.READ_LOG}

MATRIX: dict[Relation, frozenset[Part]] = {
    Relation.FOLLOWER: _FOLLOWER,
    Relation.FOLLOWER_MANAGER: frozenset(Part),
    Relation.LANDLORD: frozenset(
        {
            Part.NAME,
            Part.CONTACT,
            Part.PATHWAY,
            Part.OCCUPANCY,
            Part.ALERTS,
            Part.SHARED_SYNTHESIS,
        }
    ),
    Relation.PILOT_LANDLORD: frozenset({Part.NAME, Part.PATHWAY, Part.OCCUPANCY}),
    Relation.PILOT: frozenset({Part.PATHWAY, Part.OCCUPANCY}),
    Relation.AGGREGATE: frozenset(),
    Relation.NONE: frozenset(),
}

# Roles that see households as counts only, whatever their organisation.
AGGREGATE_ROLES = frozenset({Role.STATE_AGENT, Role.FINANCE, Role.READ_ONLY})

# Below this many households a count is shown as « < 5 » to those who see counts only.
SMALL_CELL = 5

# The relations listed on *Rôles et droits*, in this order, and what each part is called there.
SHOWN = (
    Relation.FOLLOWER,
    Relation.FOLLOWER_MANAGER,
    Relation.LANDLORD,
    Relation.PILOT_LANDLORD,
    Relation.PILOT,
    Relation.AGGREGATE,
)

RULES = (
    "Un ménage n'apparaît hors de son dossier que sous son pseudonyme (par exemple M-2027-0042).",
    "Le diagnostic n'est transmis au bailleur que pour sa synthèse logement, et seulement sous un "
    "consentement du ménage en cours de validité qui nomme ce bailleur ; un refus, un retrait ou "
    "une expiration arrêtent la transmission aussitôt. Ce qui ne concerne pas le logement ne "
    "parvient jamais au bailleur.",
    "Les notes marquées personnelles ne sont visibles que de leur auteur.",
    "Chaque consultation d'une identité, d'une section du diagnostic, d'une alerte ou d'une "
    "pièce d'un ménage est inscrite au journal des consultations, que le responsable de "
    "l'association (habilité à signer pour elle) consulte et exporte.",
    "Les agents de l'État, les finances et les membres en lecture seule ne voient que des "
    "effectifs : une case de moins de 5 ménages est affichée « < 5 ».",
)


def relation(
    role: str, organisation_id: uuid.UUID, may_sign: bool, household: dict[str, Any]
) -> Relation:
    """`household` holds its `association` and `lessor` (organisation ids, lessor maybe None)."""
    if role in AGGREGATE_ROLES:
        return Relation.AGGREGATE
    if role == Role.ASSOCIATION_STAFF and organisation_id == household["association"]:
        return Relation.FOLLOWER_MANAGER if may_sign else Relation.FOLLOWER
    if role == Role.LESSOR_STAFF and organisation_id == household["lessor"]:
        return Relation.LANDLORD
    if role == Role.PILOT:
        if organisation_id == household["lessor"]:
            return Relation.PILOT_LANDLORD
        return Relation.PILOT
    return Relation.NONE


def parts_for(relation_: Relation) -> frozenset[Part]:
    return MATRIX[relation_]


def small_cell(count: int) -> str:
    """A count as shown to those who see counts only."""
    return "< 5" if 0 < count < SMALL_CELL else str(count)
