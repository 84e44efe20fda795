"""A consortium whose conventions are signed, so money can follow them: the convention with
the State (the bailleur and the DDETS, 300 000 € from the fund) and the partnership convention
(the bailleur and two associations), with the reports their payments wait for; a finance
officer; helpers to drive the payments pages over HTTP."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import Clock, Person, _member, _person, login
from tests.conventions.conftest import Cast, cast, post

__all__ = ["cast"]

STARTS = dt.date(2026, 1, 1)  # the conventions run 2026-2027: payments may be dated today


@dataclass
class Money:
    cast: Cast
    finance: Person
    state_convention: uuid.UUID
    partnership: uuid.UUID
    interim_report: uuid.UUID  # the bailleur's bilan intermédiaire (document item)
    final_report: uuid.UUID
    association_report: uuid.UUID  # Association alpha-habitat's activity report

    @property
    def slug(self) -> str:
        return self.cast.slug

    @property
    def base(self) -> str:
        return f"/c/{self.cast.slug}/versements"

    @property
    def lessor(self) -> uuid.UUID:
        return self.cast.world.tenant.lessor_id

    @property
    def association(self) -> uuid.UUID:
        return self.cast.world.tenant.association_id


async def _signed(
    scope: Any, kind: str, reference: str, parties: list[tuple[uuid.UUID, str]]
) -> uuid.UUID:
    from portal.conventions import repository

    convention_id = await repository.insert_convention(
        scope,
        {
            "kind": kind,
            "origin": "initial",
            "reference": reference,
            "title": f"Convention {reference}",
            "status": "signed",
            "starts_on": STARTS,
            "duration_months": 24,
            "unit_accompaniment_cents": 160_000,
            "signed_at": dt.datetime(2025, 12, 15, 10, 0, tzinfo=dt.UTC),
        },
    )
    for position, (organisation, role) in enumerate(parties):
        await repository.insert_party(
            scope,
            {
                "convention": convention_id,
                "organisation": organisation,
                "role": role,
                "position": position,
            },
        )
    await repository.insert_budget_line(
        scope,
        {
            "convention": convention_id,
            "side": "resource",
            "category": "state_fund",
            "label": "FNAVDL",
            "amount_cents": 30_000_000,
            "confirmed": True,
        },
    )
    await repository.insert_budget_line(
        scope,
        {
            "convention": convention_id,
            "side": "expense",
            "category": "accompaniment",
            "label": "Accompagnement",
            "amount_cents": 34_500_000,
        },
    )
    return convention_id


async def _document(scope: Any, organisation: uuid.UUID, title: str, by: uuid.UUID) -> uuid.UUID:
    from portal.documents import repository

    request_id = await repository.insert_request(
        scope,
        {
            "organisation": organisation,
            "title": title,
            "recurrence": "once",
            "due_on": dt.date(2026, 11, 30),
        },
        by,
    )
    await repository.insert_item(
        scope,
        {
            "request": request_id,
            "organisation": organisation,
            "period_start": dt.date(2026, 11, 30),
            "due_on": dt.date(2026, 11, 30),
            "status": "submitted",
        },
    )
    items = [i for i in await repository.items(scope) if i["request"] == request_id]
    return uuid.UUID(str(items[0]["id"]))


# The payments tests' dates (advances in 2026, a balance in 2028, payments of November 2026)
# are read against this day, not the real one: they must not start failing next year.
TODAY = dt.datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("Europe/Paris"))


@pytest.fixture
async def money(cast: Cast, clock: Clock) -> Money:

    clock.at = TODAY

    world = cast.world
    scope = world.tenant.scope
    finance = await _member(
        scope,
        await _person("finances@alpha.example.org", "Finances Alpha"),
        world.tenant.lessor_id,
        "finance",
    )
    lessor, association = world.tenant.lessor_id, world.tenant.association_id
    state = await _signed(
        scope, "state", "CE-2026-001", [(lessor, "lead_lessor"), (cast.state_id, "state")]
    )
    partnership = await _signed(
        scope,
        "partnership",
        "CP-2026-001",
        [
            (lessor, "lead_lessor"),
            (association, "association"),
            (cast.association2_id, "association"),
        ],
    )
    pilot = world.tenant.pilot.id
    return Money(
        cast=cast,
        finance=finance,
        state_convention=state,
        partnership=partnership,
        interim_report=await _document(scope, lessor, "Bilan intermédiaire", pilot),
        final_report=await _document(scope, lessor, "Bilan final", pilot),
        association_report=await _document(scope, association, "Rapport d'activité", pilot),
    )


def schedule_form(
    convention: uuid.UUID,
    kind: str,
    *,
    beneficiary: uuid.UUID,
    lines: list[dict[str, str]],
    total: str = "",
    basis: str = "fixed",
    payer: uuid.UUID | None = None,
    payer_name: str = "",
    source: uuid.UUID | None = None,
    label: str = "Échéancier de test",
    funder: str = "state_fund",
    **extra: str,
) -> dict[str, object]:
    data: dict[str, object] = {
        "convention": str(convention),
        "kind": kind,
        "label": label,
        "funder": funder,
        "payer": str(payer) if payer else "",
        "payer_name": payer_name,
        "beneficiary": str(beneficiary),
        "basis": basis,
        "total": total,
        "source": str(source) if source else "",
        "rows": len(lines),
        **extra,
    }
    for n, line in enumerate(lines):
        data |= {f"l-{n}-{k}": v for k, v in line.items()}
    return data


async def create_schedule(
    client: httpx.AsyncClient, money: Money, data: dict[str, object]
) -> uuid.UUID:
    response = await post(client, f"{money.base}/nouveau", data)
    assert response.status_code == 303, response.text[-3000:]
    return uuid.UUID(response.headers["location"].rsplit("/", 1)[1])


async def subsidy(client: httpx.AsyncClient, money: Money) -> uuid.UUID:
    """The State's 300 000 €: 150 000 at signature, 90 000 on the interim report, 60 000 on
    the final bilan; paid by the CGLLS (outside the consortium) to the bailleur."""
    return await create_schedule(
        client,
        money,
        schedule_form(
            money.state_convention,
            "subsidy",
            beneficiary=money.lessor,
            payer_name="CGLLS",
            total="300 000,00",
            label="Subvention FNAVDL 2026-2027",
            lines=[
                {
                    "label": "Avance",
                    "amount": "150 000",
                    "expected_on": "15/01/2026",
                    "trigger": "signature",
                },
                {
                    "label": "Deuxième versement",
                    "amount": "90 000",
                    "expected_on": "30/06/2026",
                    "trigger": "document",
                    "document": str(money.interim_report),
                },
                {
                    "label": "Solde",
                    "amount": "60 000",
                    "expected_on": "31/03/2028",
                    "trigger": "document",
                    "document": str(money.final_report),
                },
            ],
        ),
    )


async def lines_of(money: Money, schedule_id: uuid.UUID) -> list[dict[str, Any]]:
    from portal.payments import repository
    from portal.payments.access import Sight
    from portal.payments.repository import LineFilter

    return await repository.lines(
        money.cast.world.tenant.scope,
        Sight(everything=True),
        LineFilter(schedule=schedule_id),
    )


async def pay(
    client: httpx.AsyncClient,
    money: Money,
    line_id: uuid.UUID,
    amount: str,
    paid_on: str = "20/11/2026",
    reference: str = "VIR-0001",
    **extra: str,
) -> httpx.Response:
    return await post(
        client,
        f"{money.base}/lignes/{line_id}/versement",
        {"amount": amount, "paid_on": paid_on, "reference": reference, **extra},
    )


async def validate(money: Money, item_id: uuid.UUID) -> None:
    """The reviewer validates a document (what the documents domain records)."""
    from portal.documents import repository

    await repository.update_item(money.cast.world.tenant.scope, item_id, status="validated")


def flashed(response: httpx.Response) -> str:
    return str(response.headers.get("set-cookie", ""))


def text_of(page: str) -> str:
    """The page's text with the non-breaking spaces of French amounts made plain."""
    import html

    return re.sub(r"[\u00a0\u202f]", " ", html.unescape(page))


__all__ += ["login"]
