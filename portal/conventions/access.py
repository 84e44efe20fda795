"""Who sees and does what on a convention: the one place these rules live.

| role                         | sees                                  | comments / proposes  |
|------------------------------|---------------------------------------|----------------------|
| pilot                        | every convention (and edits them)     | comments             |
| finance                      | every convention                      | if party             |
| state agent                  | conventions with the State it is party to | if party         |
| bailleur / association staff | conventions their organisation is party to | yes             |
| read only (comité)           | conventions their organisation is party to | no              |

A convention someone may not see answers 404, exactly like one that does not exist. What hangs
off a convention (payment schedules, justificatifs asked for under it) follows the same rule:
`PartySight` is what the repository filters by, `portal.core.visibility.Reach` what the other
domains receive.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass

from portal.conventions.enums import ConventionKind
from portal.core.permissions import Role

SEES_ALL = frozenset({Role.PILOT, Role.FINANCE})


@dataclass(frozen=True)
class PartySight:
    """Every convention, or those `organisation` is party to (of these kinds only, when set)."""

    everything: bool
    organisation: uuid.UUID | None = None
    kinds: frozenset[str] | None = None


def party_sight(role: str, organisation_id: uuid.UUID) -> PartySight:
    if role in SEES_ALL:
        return PartySight(everything=True)
    if role == Role.STATE_AGENT:
        return PartySight(False, organisation_id, frozenset({ConventionKind.STATE.value}))
    return PartySight(False, organisation_id)


def may_view(
    role: str, organisation_id: uuid.UUID, kind: str, parties: Collection[uuid.UUID]
) -> bool:
    """`party_sight` for one convention already loaded (e.g. for each member of a list)."""
    sight = party_sight(role, organisation_id)
    if sight.everything:
        return True
    return (sight.kinds is None or kind in sight.kinds) and organisation_id in parties


def may_comment(
    role: str, organisation_id: uuid.UUID, kind: str, parties: Collection[uuid.UUID]
) -> bool:
    if role == Role.PILOT:
        return True
    if role == Role.READ_ONLY:
        return False
    return may_view(role, organisation_id, kind, parties) and organisation_id in parties


def may_suggest(
    role: str, organisation_id: uuid.UUID, kind: str, parties: Collection[uuid.UUID]
) -> bool:
    """Parties other than the pilot propose changes; the pilot edits directly."""
    return role != Role.PILOT and may_comment(role, organisation_id, kind, parties)


def may_edit(role: str) -> bool:
    return role == Role.PILOT
