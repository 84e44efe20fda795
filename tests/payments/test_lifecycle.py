"""Every transition of a line, with the State's subsidy and the reversements it funds:
prévu → exigible → demandé → versé en partie → versé; prévu → dû → payé; conditions met by a
signature, a validated document, a subsidy received, a date, or by hand; cancellations."""

from __future__ import annotations

import httpx

from tests.conventions.conftest import post
from tests.payments.conftest import (
    Money,
    create_schedule,
    lines_of,
    login,
    pay,
    schedule_form,
    subsidy,
    text_of,
    validate,
)


def statuses(lines: list[dict]) -> list[str]:  # type: ignore[type-arg]
    return [line["status"] for line in lines]


class TestSubsidy:
    async def test_planned_due_requested_partial_paid(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await login(client, money.finance.email)
        schedule = await subsidy(client, money)
        first, second, third = await lines_of(money, schedule)
        # The convention is signed: the advance is payable at once, the others wait.
        assert statuses([first, second, third]) == ["due", "planned", "planned"]

        response = await post(
            client,
            f"{money.base}/lignes/{first['id']}/demande",
            {"requested_on": "20/01/2026", "request_reference": "Demande n° 1"},
        )
        assert response.status_code == 303
        assert (await lines_of(money, schedule))[0]["status"] == "requested"
        # A line that is not due cannot be requested.
        early = await post(
            client, f"{money.base}/lignes/{second['id']}/demande", {"requested_on": "20/01/2026"}
        )
        assert early.status_code == 400 and "exigible" in early.text

        assert (
            await pay(client, money, first["id"], "100 000,00", "15/02/2026")
        ).status_code == 303
        line = (await lines_of(money, schedule))[0]
        assert line["status"] == "partial" and line["paid_cents"] == 10_000_000
        assert (
            await pay(client, money, first["id"], "50 000", "01/03/2026", "VIR-2")
        ).status_code == 303
        line = (await lines_of(money, schedule))[0]
        assert line["status"] == "paid" and line["paid_cents"] == 15_000_000
        assert line["payment_references"] == "VIR-0001, VIR-2"
        assert str(line["last_paid_on"]) == "2026-03-01"

        # The interim report is validated: the second installment becomes payable.
        await validate(money, money.interim_report)
        page = text_of((await client.get(f"{money.base}/lignes/{second['id']}")).text)
        assert "Exigible" in page
        assert (
            "à la validation de la pièce « Bilan intermédiaire » de Bailleur alpha-habitat" in page
        )
        assert (await lines_of(money, schedule))[1]["status"] == "due"

        history = text_of((await client.get(f"{money.base}/lignes/{first['id']}")).text)
        assert "Versement enregistré" in history and "Finances Alpha" in history
        assert "Versé en partie → Versé" in history  # before and after, in words


class TestRepayments:
    async def test_due_when_the_subsidy_arrives_then_paid(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await login(client, money.finance.email)
        schedule = await subsidy(client, money)
        advance = (await lines_of(money, schedule))[0]
        repayments = await create_schedule(
            client,
            money,
            schedule_form(
                money.partnership,
                "repayment",
                beneficiary=money.association,
                payer=money.lessor,
                source=schedule,
                total="40 000",
                label="Reversements Association alpha",
                lines=[
                    {
                        "label": "Avance 50 %",
                        "amount": "20 000",
                        "expected_on": "15/02/2026",
                        "trigger": "installment",
                        "source_line": str(advance["id"]),
                    },
                    {
                        "label": "Solde",
                        "amount": "20 000",
                        "expected_on": "31/03/2028",
                        "trigger": "document",
                        "document": str(money.association_report),
                    },
                ],
            ),
        )
        assert statuses(await lines_of(money, repayments)) == ["planned", "planned"]
        await pay(client, money, advance["id"], "150 000", "15/02/2026")
        # Receiving the advance makes the association's advance due.
        first, second = await lines_of(money, repayments)
        assert [first["status"], second["status"]] == ["due", "planned"]
        assert first["met_at"] is not None
        assert (await pay(client, money, first["id"], "20 000", "01/03/2026")).status_code == 303
        assert (await lines_of(money, repayments))[0]["status"] == "paid"

        # The solde waits for the association's report; once validated, it is due.
        await validate(money, money.association_report)
        await client.get(money.base)
        assert (await lines_of(money, repayments))[1]["status"] == "due"
        listing = text_of((await client.get(money.base)).text)
        assert "Bailleur alpha-habitat → Association alpha-habitat" in listing
        assert "Payé" in listing and "Dû" in listing


class TestConditions:
    async def test_a_date_trigger_and_a_condition_met_by_hand(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await login(client, money.cast.world.tenant.pilot.email)
        schedule = await create_schedule(
            client,
            money,
            schedule_form(
                money.partnership,
                "repayment",
                beneficiary=money.association,
                payer=money.lessor,
                total="10 000",
                lines=[
                    {
                        "label": "Échéance passée",
                        "amount": "4 000",
                        "expected_on": "01/06/2026",
                        "trigger": "date",
                    },
                    {
                        "label": "Sur décision du comité",
                        "amount": "6 000",
                        "expected_on": "01/06/2027",
                        "trigger": "manual",
                    },
                ],
            ),
        )
        dated, manual = await lines_of(money, schedule)
        assert [dated["status"], manual["status"]] == ["due", "planned"]
        empty = await post(client, f"{money.base}/lignes/{manual['id']}/condition", {"note": ""})
        assert empty.status_code == 400 and "Indiquez comment" in empty.text
        done = await post(
            client,
            f"{money.base}/lignes/{manual['id']}/condition",
            {"note": "Comité de pilotage du 12/11/2026"},
        )
        assert done.status_code == 303
        line = (await lines_of(money, schedule))[1]
        assert line["status"] == "due" and line["met_note"] == "Comité de pilotage du 12/11/2026"


class TestCancellation:
    async def test_a_mistaken_payment_is_cancelled_and_the_status_follows(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        from portal.payments import repository

        await login(client, money.finance.email)
        schedule = await subsidy(client, money)
        advance = (await lines_of(money, schedule))[0]
        await pay(client, money, advance["id"], "150 000")
        assert (await lines_of(money, schedule))[0]["status"] == "paid"
        [payment] = await repository.payments(money.cast.world.tenant.scope, [advance["id"]])
        url = f"{money.base}/lignes/{advance['id']}/versements/{payment['id']}/annulation"
        refused = await post(client, url, {"cancel_reason": ""})
        assert refused.status_code == 400 and "pourquoi ce versement est annulé" in refused.text
        assert (
            await post(client, url, {"cancel_reason": "Saisi sur la mauvaise ligne"})
        ).status_code == 303
        line = (await lines_of(money, schedule))[0]
        assert line["status"] == "due" and line["paid_cents"] == 0
        page = text_of((await client.get(f"{money.base}/lignes/{advance['id']}")).text)
        assert "annulé le" in page and "Saisi sur la mauvaise ligne" in page
        again = await post(client, url, {"cancel_reason": "Encore"})
        assert again.status_code == 400 and "déjà annulé" in again.text
