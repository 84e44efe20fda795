"""What counts as a contact with a household: a pathway move, a diagnostic update, an alert
or a note (occupancy and procedures too). Retention counts two years from the last one."""

from __future__ import annotations

import uuid

from portal.core import clock
from portal.core.tenancy import TenantScope
from portal.households import repository


async def touch(scope: TenantScope, household_id: uuid.UUID) -> None:
    """The retention period starts again; a warning already sent no longer holds."""
    await repository.update_household(
        scope, household_id, {"last_contact_at": clock.now(), "retention_warned_at": None}
    )
