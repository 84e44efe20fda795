"""A household's pathway: the moves allowed from each step, within one episode.

| from            | to              | who      | business case                                     |
|-----------------|-----------------|----------|---------------------------------------------------|
| (none)          | orientation     | follower | orientée par le SIAO, une commission, le bailleur |
|                 |                 |          | ou une association : source, date, motif          |
| orientation     | orientation     | follower | réorientée (autre source, autre motif)            |
| orientation     | entry           | follower | entrée validée : accord du ménage recueilli       |
| orientation     | exit            | follower | refus, perte de contact                           |
| entry           | diagnostic      | follower | diagnostic engagé                                 |
| entry           | orientation     | follower | entrée manquée : réorientée                       |
| entry           | exit            | follower |                                                   |
| diagnostic      | accompaniment   | follower | accompagnement (la GLA suit en parallèle)         |
| diagnostic      | exit            | follower |                                                   |
| accompaniment   | suspended       | follower | accompagnement suspendu (droit d'arrêter)         |
| accompaniment   | exit            | follower | sortie : motif dans la liste, et une note         |
| suspended       | accompaniment   | follower | reprise                                           |
| suspended       | exit            | follower |                                                   |
| exit            | watch           | follower | maintien / veille après la sortie                 |
| exit, watch     | orientation     | follower | retour du ménage : nouvel épisode, les anciens    |
|                 |                 |          | restent au dossier (`reenter`)                    |

Every move records who, when (the date of the fact) and why. Gestion locative adaptée is not a
step: it runs beside accompaniment, from a date, recorded by the bailleur or the association.
"""

from __future__ import annotations

from portal.households.enums import Step

MOVES: dict[Step, frozenset[Step]] = {
    Step.ORIENTATION: frozenset({Step.ORIENTATION, Step.ENTRY, Step.EXIT}),
    Step.ENTRY: frozenset({Step.DIAGNOSTIC, Step.ORIENTATION, Step.EXIT}),
    Step.DIAGNOSTIC: frozenset({Step.ACCOMPANIMENT, Step.EXIT}),
    Step.ACCOMPANIMENT: frozenset({Step.SUSPENDED, Step.EXIT}),
    Step.SUSPENDED: frozenset({Step.ACCOMPANIMENT, Step.EXIT}),
    Step.EXIT: frozenset({Step.WATCH, Step.ORIENTATION}),
    Step.WATCH: frozenset({Step.ORIENTATION}),
}

# From these, an orientation opens a new episode instead of continuing the current one.
CLOSED = frozenset({Step.EXIT, Step.WATCH})

# What the caseload shows as the next thing to do at each step.
NEXT_ACTION = {
    Step.ORIENTATION: "Recueillir l'accord du ménage",
    Step.ENTRY: "Engager le diagnostic",
    Step.DIAGNOSTIC: "Terminer le diagnostic",
    Step.ACCOMPANIMENT: "Poursuivre l'accompagnement",
    Step.SUSPENDED: "Reprendre contact",
    Step.EXIT: "Décider d'une veille",
    Step.WATCH: "Veille après la sortie",
}


class MoveRefused(ValueError):
    """A move the table does not allow; the message is for the person who tried it."""


def allowed(current: Step) -> frozenset[Step]:
    return MOVES[current]


def check(current: Step, target: Step) -> None:
    if target not in MOVES[current]:
        raise MoveRefused("Ce changement d'étape n'est pas prévu depuis l'étape actuelle.")


def opens_episode(current: Step, target: Step) -> bool:
    return current in CLOSED and target == Step.ORIENTATION
