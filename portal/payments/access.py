"""Who sees and does what on payments: the one place these rules live.

| role               | sees                                     | acts                     |
|--------------------|------------------------------------------|--------------------------|
| pilot, finance     | every schedule of the consortium         | creates schedules, records|
|                    |                                          | requests and payments    |
| state agent        | the State fund's subsidies; schedules    | -                        |
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

from portal.core.permissions import Role
from portal.core.tenancy import TenantContext
from portal.payments.enums import ScheduleKind

MANAGERS = frozenset({Role.PILOT, Role.FINANCE})
STATE_FUND = "state_fund"


@dataclass(frozen=True)
class Sight:
    """What a member sees: everything, or the schedules of one organisation (as payer or
    beneficiary), plus the State fund's subsidies for the State's agents."""

    everything: bool
    organisation: uuid.UUID | None = None
    beneficiary_only: bool = False  # associations see what they are owed, not what they owe
    state_subsidies: bool = False


def sight(role: str, organisation_id: uuid.UUID) -> Sight:
    if role in MANAGERS:
        return Sight(everything=True)
    if role == Role.ASSOCIATION_STAFF:
        return Sight(everything=False, organisation=organisation_id, beneficiary_only=True)
    return Sight(
        everything=False,
        organisation=organisation_id,
        state_subsidies=role == Role.STATE_AGENT,
    )


def sight_of(ctx: TenantContext) -> Sight:
    return sight(ctx.role, ctx.organisation_id)


def sees(view: Sight, schedule: Mapping[str, Any]) -> bool:
    """The same rule as the repository's filter, for one schedule already loaded."""
    if view.everything:
        return True
    if view.state_subsidies and (
        schedule["kind"] == ScheduleKind.SUBSIDY and schedule["funder"] == STATE_FUND
    ):
        return True
    if schedule["beneficiary"] == view.organisation:
        return True
    return not view.beneficiary_only and schedule["payer_organisation"] == view.organisation


def may_manage(role: str) -> bool:
    return role in MANAGERS


def may_declare(ctx: TenantContext, schedule: Mapping[str, Any]) -> bool:
    """Results and justified expenses: the managers, or the association being paid."""
    return may_manage(ctx.role) or (
        ctx.role == Role.ASSOCIATION_STAFF and schedule["beneficiary"] == ctx.organisation_id
    )
