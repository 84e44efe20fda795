"""What hangs off a convention (its payment schedules, the justificatifs asked for under it) is
seen by whoever sees the convention: the one rule, written over "the conventions a member
reaches". Which conventions those are is the conventions domain's decision
(`portal.conventions.service.reach`); the other domains' repositories filter through `within`,
in SQL, so nothing hidden is loaded, and check one loaded row with `Reach.covers`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reach:
    """Every convention of the consortium, or these ones."""

    everything: bool
    conventions: frozenset[uuid.UUID] = frozenset()

    @property
    def any(self) -> bool:
        """Reaches at least one convention: a sight then adds `within` to its clause."""
        return self.everything or bool(self.conventions)

    def covers(self, convention_id: Any) -> bool:
        if self.everything:
            return True
        return convention_id is not None and uuid.UUID(str(convention_id)) in self.conventions


EVERYTHING = Reach(everything=True)
NOTHING = Reach(everything=False)


def within(reach: Reach, column: Any) -> Any | None:
    """`column` (a convention id) among the reached conventions, as a WHERE clause; None when
    every convention is reached."""
    if reach.everything:
        return None
    if not reach.conventions:
        return column.is_null() & column.is_not_null()  # piccolo refuses `is_in([])`
    return column.is_in(sorted(reach.conventions))
