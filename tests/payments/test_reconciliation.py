"""Reconciliation per convention and per period (granted, received, passed on, justified,
owed to each association, late lines and who must act), the statement PDF an association
gets, and the scheduler noticing a validated report without anyone opening a page."""

from __future__ import annotations

import datetime as dt
import io
import re

import httpx
from pypdf import PdfReader

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


async def scenario(client: httpx.AsyncClient, money: Money) -> dict[str, object]:
    """300 000 € granted; 150 000 received in February 2026; 20 000 of the association's
    40 000 passed on in March; its second half due on a report, then declared late."""
    await login(client, money.finance.email)
    state = await subsidy(client, money)
    advance = (await lines_of(money, state))[0]
    await pay(client, money, advance["id"], "150 000", "15/02/2026", "CGLLS-1")
    repayments = await create_schedule(
        client,
        money,
        schedule_form(
            money.partnership,
            "repayment",
            beneficiary=money.association,
            payer=money.lessor,
            source=state,
            total="40 000",
            label="Reversements alpha",
            lines=[
                {
                    "label": "Avance",
                    "amount": "20 000",
                    "expected_on": "01/03/2026",
                    "trigger": "installment",
                    "source_line": str(advance["id"]),
                },
                {
                    "label": "Solde",
                    "amount": "20 000",
                    "expected_on": "30/09/2026",
                    "trigger": "document",
                    "document": str(money.association_report),
                },
            ],
        ),
    )
    first, second = await lines_of(money, repayments)
    await pay(client, money, first["id"], "20 000", "10/03/2026", "VIR-ASSO-1")
    await validate(money, money.association_report)
    return {"state": state, "repayments": repayments, "second": second}


def row(page: str, start: str) -> str:
    """The text of the table row starting with `start`."""
    found = re.search(rf"<tr><th scope=\"row\">{re.escape(start)}.*?</tr>", page, re.S)
    assert found, start
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text_of(found.group(0))))


class TestReconciliation:
    async def test_per_convention_and_per_association(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await scenario(client, money)
        page = (await client.get(f"{money.base}/rapprochement")).text
        state = row(page, "CE-2026-001")
        # Budget 345 000, granted 300 000, planned 300 000, received 150 000.
        assert "345 000,00 € 300 000,00 € 300 000,00 € 150 000,00 € 0,00 € 0,00 € 0,00 €" in state
        partnership = row(page, "CP-2026-001")
        # Passed on 20 000, justified 20 000 (the validated report), owed 20 000.
        assert "0,00 € 0,00 € 0,00 € 20 000,00 € 20 000,00 € 20 000,00 €" in partnership
        association = row(page, "Association alpha-habitat")
        assert "20 000,00 € 20 000,00 € 0,00 €" in association and "1" in association
        # The bailleur received 150 000 € and passed 20 000 € on: nothing advanced.
        assert "150 000,00 € 20 000,00 € —" in row(page, "Bailleur alpha-habitat</th>")
        # As a beneficiary: nothing owed now, 150 000 € received, 150 000 € still to come.
        carrier = row(page, "Bailleur alpha-habitat<br>")
        assert "0,00 € 150 000,00 € 150 000,00 €" in carrier
        plain = re.sub(r"<[^>]+>", "", text_of(page))
        # Late: the second installment waits for the interim report, expected in June.
        assert (
            "Deuxième versement" in plain and "la condition : à la validation de la pièce" in plain
        )
        assert "Solde" in plain and "Bailleur alpha-habitat (payeur)" in plain

    async def test_a_period_counts_what_falls_in_it(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await scenario(client, money)
        first_quarter = (await client.get(f"{money.base}/rapprochement?periode=2026-T1")).text
        assert "1er trimestre 2026" in first_quarter
        state = row(first_quarter, "CE-2026-001")
        # Only the advance is planned in Q1; it was received in Q1.
        assert "150 000,00 € 150 000,00 € 0,00 €" in state
        later = (await client.get(f"{money.base}/rapprochement?periode=2026-T4")).text
        assert "0,00 € 0,00 € 0,00 € 0,00 € 0,00 € 20 000,00 €" in row(later, "CP-2026-001")
        nonsense = (await client.get(f"{money.base}/rapprochement?periode=n'importe")).text
        assert "Toute la durée" in nonsense


class TestStatement:
    async def test_the_association_gets_what_it_is_owed_why_and_when(
        self,
        client: httpx.AsyncClient,
        make_client,
        money: Money,  # type: ignore[no-untyped-def]
    ) -> None:
        await scenario(client, money)
        worker = make_client()
        await login(worker, money.cast.world.tenant.association_worker.email)
        response = await worker.get(f"{money.base}/releves/{money.association}")
        assert response.status_code == 200
        assert "releve-versements-44306184100047.pdf" in response.headers["content-disposition"]
        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
        text = re.sub(r"\s+", " ", text_of(text))
        assert "Association alpha-habitat" in text and "SIRET 44306184100047" in text
        assert "CP-2026-001" in text
        assert "Montant convenu : 20 000,00 €, payable à la réception de « Avance »" in text
        assert "10/03/2026 : 20 000,00 € (VIR-ASSO-1)" in text
        assert "Total CP-2026-001 40 000,00 € 20 000,00 € 20 000,00 €" in text


class TestScheduler:
    async def test_the_periodic_scan_notices_a_validated_report(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        from workers.schedule import periodic

        await login(client, money.finance.email)
        state = await subsidy(client, money)
        assert (await lines_of(money, state))[1]["status"] == "planned"
        await validate(money, money.interim_report)
        await periodic(dt.datetime.now(dt.UTC))
        second = (await lines_of(money, state))[1]
        assert second["status"] == "due" and second["met_at"] is not None
        # Running it again changes nothing.
        met = second["met_at"]
        await periodic(dt.datetime.now(dt.UTC))
        assert (await lines_of(money, state))[1]["met_at"] == met
        requested = await post(
            client, f"{money.base}/lignes/{second['id']}/demande", {"requested_on": "01/12/2026"}
        )
        assert requested.status_code == 303
