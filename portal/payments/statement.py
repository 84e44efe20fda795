"""The statement of one organisation (relevé de situation): everything it is owed under the
consortium's conventions, why and when, what was paid (with references) and what remains; a
PDF rendered with WeasyPrint, for the association's accounts and its funders."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from portal.core import clock
from portal.core.pdf import html_to_pdf
from portal.core.templating import PARIS, env
from portal.core.tenancy import TenantContext
from portal.payments import access, repository, service
from portal.payments.repository import LineFilter
from portal.tenants import service as tenants


@dataclass(frozen=True)
class Statement:
    organisation: dict[str, Any]
    lines: list[dict[str, Any]]
    payments: dict[uuid.UUID, list[dict[str, Any]]]
    at: dt.datetime

    @property
    def due_cents(self) -> int:
        return sum(line["amount_cents"] or 0 for line in self.lines)

    @property
    def paid_cents(self) -> int:
        return sum(int(line["paid_cents"]) for line in self.lines)


async def statement(ctx: TenantContext, organisation_id: uuid.UUID) -> Statement:
    """What `organisation_id` is owed, as this member may see it (404 otherwise)."""
    organisation = next(
        (o for o in await tenants.organisations(ctx) if o["id"] == organisation_id), None
    )
    view = await access.sight_of(ctx)
    if organisation is None or not access.may_open_statement(view, organisation_id):
        raise LookupError(organisation_id)
    lines = [
        line
        for line in await service.visible_lines(ctx, LineFilter(organisation=organisation_id))
        if line["beneficiary"] == organisation_id
    ]
    payments: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for p in await repository.payments(ctx, [line["id"] for line in lines]):
        if p["cancelled_at"] is None:
            payments.setdefault(p["line"], []).append(p)
    return Statement(organisation, lines, payments, clock.now())


def html(found: Statement, consortium: str) -> str:
    return env.get_template("payments/statement.html").render(
        s=found, consortium=consortium, today=found.at.astimezone(PARIS).date()
    )


async def pdf(found: Statement, consortium: str) -> bytes:
    document = html(found, consortium)
    result: bytes = await anyio.to_thread.run_sync(lambda: html_to_pdf(document))
    return result
