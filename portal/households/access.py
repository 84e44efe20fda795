"""Opening a household for a member: the one place its relation to the member is decided.

Every page and action on one household starts here. A household the member has no relation
to (another association's, a home of another bailleur) does not exist for it: `None`, a 404,
like a household of another consortium, which the scoped query does not even find."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from portal.core.tenancy import TenantContext
from portal.households import repository, sealing
from portal.households.enums import Part, Relation
from portal.households.visibility import parts_for, relation


@dataclass(frozen=True)
class Opened:
    ctx: TenantContext
    row: dict[str, Any]
    relation: Relation
    _sealer: list[sealing.Sealer] = field(default_factory=list, compare=False, repr=False)

    async def sealer(self) -> sealing.Sealer:
        """The consortium's sealer, read once for everything one page opens of the file."""
        if not self._sealer:
            self._sealer.append(await sealing.sealer(self.ctx))
        return self._sealer[0]

    @property
    def id(self) -> uuid.UUID:
        household_id: uuid.UUID = self.row["id"]
        return household_id

    @property
    def pseudonym(self) -> str:
        return str(self.row["pseudonym"])

    @property
    def parts(self) -> frozenset[Part]:
        return parts_for(self.relation)

    def sees(self, part: Part | str) -> bool:
        return Part(part) in self.parts

    @property
    def follows(self) -> bool:
        """The association following it: the one that writes its file."""
        return self.relation in (Relation.FOLLOWER, Relation.FOLLOWER_MANAGER)

    @property
    def houses(self) -> bool:
        return self.relation == Relation.LANDLORD

    @property
    def partner(self) -> uuid.UUID | None:
        """The other side of an alert this member would raise."""
        if self.follows:
            lessor: uuid.UUID | None = self.row["lessor"]
            return lessor
        if self.houses:
            association: uuid.UUID = self.row["association"]
            return association
        return None


async def open_household(ctx: TenantContext, household_id: uuid.UUID) -> Opened | None:
    row = await repository.household(ctx, household_id)
    if row is None:
        return None
    found = relation(ctx.role, ctx.organisation_id, ctx.may_sign, row)
    if found in (Relation.NONE, Relation.AGGREGATE):
        return None
    return Opened(ctx, row, found)


def require(opened: Opened, part: Part) -> None:
    """An action on a part the member may not see: refused (403: the household is known)."""
    if not opened.sees(part):
        raise PermissionError(part)
