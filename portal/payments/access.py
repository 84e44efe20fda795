"""Who sees and does what on payments: the one place these rules live.

| role               | sees                                     | acts                     |
|--------------------|------------------------------------------|--------------------------|
| pilot, finance     | every schedule of the consortium         | creates schedules, records|
|                    |                                          | requests and payments    |
| state agent        | the schedules of the conventions its     | -                        |
|                    | service is party to (the conventions'    |                          |
|                    | rule, `portal.core.visibility`); those   |                          |
|                    | its organisation pays or receives        |                          |
| association staff  | the schedules paying its own association | declares its results and |
|                    |                                          | justified expenses       |
| lessor staff,      | schedules its organisation pays or       | -                        |
| read only          | receives                                 |                          |

A line someone may not see answers 404, exactly like one that does not exist. The repository
applies a `Sight` in its queries, so nothing hidden is ever loaded.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portal.conventions import service as conventions
from portal.core.permissions import Role
from portal.core.tenancy import TenantContext, TenantScope
from portal.core.visibility import NOTHING, Reach

MANAGERS = frozenset({Role.PILOT, Role.FINANCE})
STATE_FUND = "state_fund"


@dataclass(frozen=True)
class Sight:
    """What a member sees: everything, or the schedules of one organisation (as payer or
    beneficiary), plus, for the State's agents, those of the conventions they see."""

    everything: bool
    organisation: uuid.UUID | None = None
    beneficiary_only: bool = False  # associations see what they are owed, not what they owe
    conventions: Reach = NOTHING


async def sight(scope: TenantScope, role: str, organisation_id: uuid.UUID) -> Sight:
    if role in MANAGERS:
        return Sight(everything=True)
    if role == Role.ASSOCIATION_STAFF:
        return Sight(everything=False, organisation=organisation_id, beneficiary_only=True)
    if role == Role.STATE_AGENT:
        reach = await conventions.reach_of(scope, role, organisation_id)
        return Sight(everything=False, organisation=organisation_id, conventions=reach)
    return Sight(everything=False, organisation=organisation_id)


async def sight_of(ctx: TenantContext) -> Sight:
    return await sight(ctx, ctx.role, ctx.organisation_id)


def sees(view: Sight, schedule: Mapping[str, Any]) -> bool:
    """The same rule as the repository's filter, for one schedule (or line) already loaded."""
    if view.everything or view.conventions.covers(schedule["convention"]):
        return True
    if schedule["beneficiary"] == view.organisation:
        return True
    return not view.beneficiary_only and schedule["payer_organisation"] == view.organisation


def may_open_statement(view: Sight, organisation_id: uuid.UUID) -> bool:
    """A statement lists everything owed to one organisation: for its members and the
    managers only. Pages link to a statement only when this holds."""
    return view.everything or view.organisation == organisation_id


def may_manage(role: str) -> bool:
    return role in MANAGERS


def may_declare(ctx: TenantContext, schedule: Mapping[str, Any]) -> bool:
    """Results and justified expenses: the managers, or the association being paid."""
    return may_manage(ctx.role) or (
        ctx.role == Role.ASSOCIATION_STAFF and schedule["beneficiary"] == ctx.organisation_id
    )
