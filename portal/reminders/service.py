"""The reminder scan: for each consortium, each open item, the step due today, once per
recipient. Run periodically (arq cron, or the in-process runner); running it twice, or on
several workers at once, sends nothing twice."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from portal.core import clock
from portal.core import periodic as units
from portal.core.db import transaction
from portal.core.templating import date_fr
from portal.core.tenancy import TenantScope
from portal.deadlines import service as deadlines
from portal.documents import service as documents
from portal.households import service as households
from portal.notifications import service as notifications
from portal.payments import service as payments
from portal.reminders import repository
from portal.reminders.schedule import DEFAULT_POLICY, DueItem, Policy, Step, current_step
from portal.tenants import service as tenants

PARIS = ZoneInfo("Europe/Paris")


async def policy_for(scope: TenantScope) -> Policy:
    row = await repository.policy(scope)
    if row is None:
        return DEFAULT_POLICY
    return Policy(
        before_days=tuple(row["before_days"]),
        overdue_first=row["overdue_first"],
        overdue_every=row["overdue_every"],
        overdue_max=row["overdue_max"],
        escalate=row["escalate"],
    )


async def save_policy(scope: TenantScope, policy: Policy) -> None:
    await repository.save_policy(
        scope,
        {
            "before_days": list(policy.before_days),
            "overdue_first": policy.overdue_first,
            "overdue_every": policy.overdue_every,
            "overdue_max": policy.overdue_max,
            "escalate": policy.escalate,
        },
        clock.now(),
    )


def _title(item: DueItem, step: Step) -> str:
    due = date_fr(item.due_on)
    if step.escalation:
        return f"Escalade : « {item.title} » est toujours en retard (échéance du {due})"
    if step.overdue:
        return f"En retard : « {item.title} » était attendu le {due}"
    return f"Rappel : « {item.title} » arrive à échéance le {due}"


async def scan(now: dt.datetime) -> int:
    """Sends the reminders due at `now`; returns how many notifications it created. Each
    consortium apart: one whose rows make its scan fail is retried at the next run, and the
    others are reminded meanwhile."""
    today = now.astimezone(PARIS).date()
    sent = 0
    for consortium in await tenants.active_consortia():
        scope = TenantScope.for_platform(
            consortium["id"], reason="the scheduler reminds each active consortium in turn"
        )
        async with units.unit("rappels", consortium=scope.consortium_id):
            sent += await _scan_consortium(scope, today, now)
    return sent


async def _scan_consortium(scope: TenantScope, today: dt.date, now: dt.datetime) -> int:
    sent = 0
    policy = await policy_for(scope)
    pilots: list[uuid.UUID] | None = None
    items = [
        *await deadlines.due_items(scope),
        *await documents.due_items(scope),
        *await payments.due_items(scope),
        *await households.due_items(scope),
    ]
    for item in items:
        step = current_step(item.due_on, item.created_on, today, policy)
        if step is None:
            continue
        recipients: list[Any] = list(item.recipients)
        if step.escalation or not recipients:
            pilots = pilots if pilots is not None else await tenants.active_pilots(scope)
            recipients = pilots
        for recipient in recipients:
            async with transaction():
                if not await repository.record_sent(scope, item.subject, recipient, step.name, now):
                    continue
                await notifications.notify(
                    [recipient],
                    kind="reminder",
                    title=_title(item, step),
                    link=item.link,
                    subject=item.subject,
                    consortium_id=scope.consortium_id,
                    at=now,
                )
                sent += 1
    return sent


async def history(scope: TenantScope, subject: str) -> list[dict[str, Any]]:
    return await repository.sent_for(scope, subject)
