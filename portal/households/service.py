"""The households domain's door, for the other domains and the periodic work."""

from __future__ import annotations

import datetime as dt
from typing import Any

from portal.core.tenancy import TenantScope
from portal.households import alerts, retention
from portal.households.enums import Part
from portal.households.visibility import MATRIX, RULES, SHOWN
from portal.reminders.schedule import DueItem


async def due_items(scope: TenantScope) -> list[DueItem]:
    """Alerts awaiting acknowledgement and court procedures coming to their end."""
    return await alerts.due_items(scope)


async def apply_retention(now: dt.datetime) -> int:
    return await retention.scan(now)


def visibility() -> dict[str, Any]:
    """The households' rule, as *Rôles et droits* shows it."""
    return {
        "relations": [(r.value, r.label) for r in SHOWN],
        "parts": [(p.value, p.label) for p in Part],
        "sees": {r.value: {p.value for p in MATRIX[r]} for r in SHOWN},
        "rules": RULES,
    }
