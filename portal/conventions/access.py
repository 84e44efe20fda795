"""Who sees and does what on a convention: the one place these rules live.

| role                         | sees                                  | comments / proposes  |
|------------------------------|---------------------------------------|----------------------|
| pilot                        | every convention (and edits them)     | comments             |
| finance                      | every convention                      | if party             |
| state agent                  | conventions with the State it is party to | if party         |
| bailleur / association staff | conventions their organisation is party to | yes             |
| read only (comité)           | conventions their organisation is party to | no              |

A convention someone may not see answers 404, exactly like one that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from portal.conventions.enums import ConventionKind
from portal.core.permissions import Role

SEES_ALL = frozenset({Role.PILOT, Role.FINANCE})


def may_view(
    role: str, organisation_id: uuid.UUID, kind: str, parties: Collection[uuid.UUID]
) -> bool:
    if role in SEES_ALL:
        return True
    if role == Role.STATE_AGENT and kind != ConventionKind.STATE:
        return False
    return organisation_id in parties


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
