"""The rules on money: amounts in cents and never negative, payments dated from the
convention's signature (before it, only with a reason), the schedule adding up to the amount
granted, results and expenses that set the amount, and the warnings (more than due, before the
money is received, before the signature) that need a reason."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import ON_POSTGRES
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
)


def repayment_form(money: Money, **options: object) -> dict[str, object]:
    defaults: dict[str, object] = {
        "beneficiary": money.association,
        "payer": money.lessor,
        "total": "20 000",
        "lines": [
            {"label": "Unique", "amount": "20 000", "expected_on": "01/06/2026", "trigger": "date"}
        ],
    }
    return schedule_form(money.partnership, "repayment", **(defaults | options))  # type: ignore[arg-type]


class TestScheduleSum:
    async def test_lines_must_add_up_to_the_amount_granted(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await login(client, money.finance.email)
        data = schedule_form(
            money.state_convention,
            "subsidy",
            beneficiary=money.lessor,
            payer_name="CGLLS",
            total="300 000",
            lines=[
                {
                    "label": "Avance",
                    "amount": "150 000",
                    "expected_on": "15/01/2026",
                    "trigger": "signature",
                },
                {
                    "label": "Solde",
                    "amount": "140 000,50",
                    "expected_on": "31/03/2028",
                    "trigger": "date",
                },
            ],
        )
        response = await post(client, f"{money.base}/nouveau", data)
        assert response.status_code == 400
        page = text_of(response.text)
        assert (
            "La somme des échéances (290 000,50 €) diffère du montant accordé (300 000,00 €) : "
            "il manque 9 999,50 €." in page
        )
        # Nothing was stored, and the typed values are shown again.
        from portal.payments import repository
        from portal.payments.access import Sight

        assert await repository.schedules(money.cast.world.tenant.scope, Sight(True)) == []
        assert 'value="140 000,50"' in response.text
        data["l-1-amount"] = "150 000"
        assert (await post(client, f"{money.base}/nouveau", data)).status_code == 303

    async def test_too_much_is_refused_too_and_the_schedule_must_be_on_a_signed_convention(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await login(client, money.finance.email)
        data = repayment_form(money, total="10 000")
        response = await post(client, f"{money.base}/nouveau", data)
        assert response.status_code == 400
        assert "il y a 10 000,00 € de trop" in text_of(response.text)
        # The reversements follow the partnership convention, not the one with the State.
        wrong = repayment_form(money) | {"convention": str(money.state_convention)}
        response = await post(client, f"{money.base}/nouveau", wrong)
        assert response.status_code == 400
        assert "convention de partenariat" in text_of(response.text)


class TestAmounts:
    async def test_negative_or_malformed_amounts_are_refused(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await login(client, money.finance.email)
        negative = repayment_form(money, total="-20 000")
        response = await post(client, f"{money.base}/nouveau", negative)
        assert response.status_code == 400 and "ne peut pas être négatif" in response.text
        schedule = await create_schedule(client, money, repayment_form(money))
        [line] = await lines_of(money, schedule)
        for amount, message in (
            ("-5", "ne peut pas être négatif"),
            ("12,345", "deux décimales au plus"),
            ("douze", "Montant non reconnu"),
            ("0", "supérieur à zéro"),
        ):
            response = await pay(client, money, line["id"], amount)
            assert response.status_code == 400, amount
            assert message in text_of(response.text), amount
        assert (await lines_of(money, schedule))[0]["paid_cents"] == 0

    async def test_payment_dates_not_in_the_future_and_with_a_reference(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await login(client, money.finance.email)
        schedule = await create_schedule(client, money, repayment_form(money))
        [line] = await lines_of(money, schedule)
        future = await pay(client, money, line["id"], "1 000", paid_on="01/01/2099")
        assert future.status_code == 400 and "dans le futur" in text_of(future.text)
        missing = await pay(client, money, line["id"], "1 000", reference="")
        assert missing.status_code == 400 and "référence du paiement" in text_of(missing.text)


class TestResults:
    async def test_the_amount_comes_from_the_households_accompanied(
        self,
        client: httpx.AsyncClient,
        make_client,
        money: Money,  # type: ignore[no-untyped-def]
    ) -> None:
        await login(client, money.finance.email)
        schedule = await create_schedule(
            client,
            money,
            repayment_form(
                money,
                basis="results",
                total="100 000",
                unit_cost="1 600",
                unit_label="ménage accompagné",
                lines=[
                    {"label": "Premier semestre", "expected_on": "01/07/2026", "trigger": "date"},
                    {"label": "Second semestre", "expected_on": "01/01/2027", "trigger": "date"},
                ],
            ),
        )
        first, _ = await lines_of(money, schedule)
        # Its date has come, but until results are declared nothing can be paid.
        assert first["status"] == "planned" and first["amount_cents"] is None
        page = text_of((await client.get(f"{money.base}/lignes/{first['id']}")).text)
        assert "Selon les résultats déclarés : 1 600,00 € par ménage accompagné" in page
        # The association declares its results.
        association = make_client()
        await login(association, money.cast.world.tenant.association_worker.email)
        url = f"{money.base}/lignes/{first['id']}/declaration"
        refused = await post(association, url, {"quantity": "quarante"})
        assert refused.status_code == 400 and "nombre entier" in refused.text
        assert (await post(association, url, {"quantity": "42"})).status_code == 303
        line = (await lines_of(money, schedule))[0]
        assert line["amount_cents"] == 42 * 160_000 and line["status"] == "due"
        page = text_of((await association.get(f"{money.base}/lignes/{first['id']}")).text)
        assert "42 × 1 600,00 € (ménage accompagné)" in page
        assert "67 200,00 €" in page
        # Beyond the ceiling: refused, with the excess.
        second = (await lines_of(money, schedule))[1]
        over = await post(
            association, f"{money.base}/lignes/{second['id']}/declaration", {"quantity": "21"}
        )
        assert over.status_code == 400
        assert "au-delà du plafond convenu de 100 000,00 € (dépassement : 800,00 €)" in text_of(
            over.text
        )
        assert (await pay(client, money, first["id"], "67 200")).status_code == 303
        assert (await lines_of(money, schedule))[0]["status"] == "paid"

    async def test_justified_expenses_at_the_agreed_rate(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await login(client, money.finance.email)
        schedule = await create_schedule(
            client,
            money,
            repayment_form(
                money,
                basis="expenses",
                total="",
                rate="80",
                lines=[{"label": "Frais", "expected_on": "01/06/2026", "trigger": "date"}],
            ),
        )
        [line] = await lines_of(money, schedule)
        url = f"{money.base}/lignes/{line['id']}/declaration"
        assert (await post(client, url, {"justified": "10 000,01"})).status_code == 303
        line = (await lines_of(money, schedule))[0]
        assert line["justified_cents"] == 1_000_001
        assert line["amount_cents"] == 800_000  # rounded down to the cent, never more


class TestWarnings:
    async def test_overpaying_needs_a_reason_which_is_kept(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        from portal.payments import repository

        await login(client, money.finance.email)
        schedule = await create_schedule(client, money, repayment_form(money))
        [line] = await lines_of(money, schedule)
        warned = await pay(client, money, line["id"], "25 000")
        assert warned.status_code == 409
        page = text_of(warned.text)
        assert "Avec ce versement, 25 000,00 € auront été payés pour 20 000,00 € dus" in page
        assert "trop-perçu : 5 000,00 €" in page
        assert (await lines_of(money, schedule))[0]["paid_cents"] == 0  # nothing recorded yet
        no_reason = await pay(client, money, line["id"], "25 000", confirm="on")
        assert no_reason.status_code == 400 and "Expliquez pourquoi" in text_of(no_reason.text)
        confirmed = await pay(
            client,
            money,
            line["id"],
            "25 000",
            confirm="on",
            reason="Frais de déplacement convenus en comité",
        )
        assert confirmed.status_code == 303
        [payment] = await repository.payments(money.cast.world.tenant.scope, [line["id"]])
        assert payment["warnings"] == ["overpayment"]
        assert payment["reason"] == "Frais de déplacement convenus en comité"
        page = text_of((await client.get(f"{money.base}/lignes/{line['id']}")).text)
        assert (
            "confirmé malgré l'alerte (montant supérieur au reste dû) : Frais de déplacement "
            "convenus en comité" in page
        )

    async def test_passing_on_before_the_subsidy_is_received(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await login(client, money.finance.email)
        source = await subsidy(client, money)
        advance = (await lines_of(money, source))[0]
        schedule = await create_schedule(
            client,
            money,
            repayment_form(
                money,
                source=source,
                lines=[
                    {
                        "label": "Avance",
                        "amount": "20 000",
                        "expected_on": "01/03/2026",
                        "trigger": "installment",
                        "source_line": str(advance["id"]),
                    }
                ],
            ),
        )
        [line] = await lines_of(money, schedule)
        warned = await pay(client, money, line["id"], "20 000")
        assert warned.status_code == 409
        page = text_of(warned.text)
        assert "n'est pas encore exigible" in page
        assert "Les reversements atteindraient 20 000,00 € alors que 0,00 € de subvention" in page
        # Once the CGLLS has paid the advance, the same payment goes through without a warning.
        await pay(client, money, advance["id"], "150 000", paid_on="15/02/2026")
        assert (await pay(client, money, line["id"], "20 000")).status_code == 303


class TestEditing:
    async def test_a_paid_line_keeps_what_was_paid_and_concurrent_edits_are_refused(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await login(client, money.finance.email)
        data = repayment_form(
            money,
            lines=[
                {
                    "label": "Avance",
                    "amount": "10 000",
                    "expected_on": "01/06/2026",
                    "trigger": "date",
                },
                {
                    "label": "Solde",
                    "amount": "10 000",
                    "expected_on": "01/06/2027",
                    "trigger": "date",
                },
            ],
        )
        schedule = await create_schedule(client, money, data)
        first, second = await lines_of(money, schedule)
        await pay(client, money, first["id"], "10 000")
        url = f"{money.base}/echeanciers/{schedule}/modifier"
        edit = data | {"l-0-id": str(first["id"]), "l-1-id": str(second["id"]), "revision": "1"}
        lower = edit | {"l-0-amount": "5 000", "l-1-amount": "15 000"}
        response = await post(client, url, lower)
        assert response.status_code == 400
        assert "Déjà versé sur cette échéance : 10 000,00 €" in text_of(response.text)
        # The unpaid balance kept alone: the paid advance would be removed.
        removed = edit | {
            "rows": 1,
            "total": "10 000",
            "l-0-id": str(second["id"]),
            "l-0-label": "Solde",
            "l-0-expected_on": "01/06/2027",
        }
        response = await post(client, url, removed)
        assert response.status_code == 400 and "ne peut pas être retirée" in text_of(response.text)
        moved = edit | {"l-1-expected_on": "01/09/2027"}
        assert (await post(client, url, moved)).status_code == 303
        stale = edit | {"l-1-expected_on": "01/10/2027"}  # still revision 1
        response = await post(client, url, stale)
        assert response.status_code == 409 and "Quelqu&#39;un a modifié" in response.text
        assert str((await lines_of(money, schedule))[1]["expected_on"]) == "2027-09-01"
        history = text_of((await client.get(f"{money.base}/echeanciers/{schedule}")).text)
        assert "modification" in history


class TestKeptPayments:
    @pytest.mark.postgres_only
    async def test_postgres_refuses_to_change_or_delete_a_payment(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        from portal.payments.tables import Payment

        assert ON_POSTGRES
        await login(client, money.finance.email)
        schedule = await create_schedule(client, money, repayment_form(money))
        [line] = await lines_of(money, schedule)
        await pay(client, money, line["id"], "20 000")
        with pytest.raises(Exception, match="payments_payment rows are kept"):
            await Payment.update({Payment.amount_cents: 1}, force=True)  # tenant-scope-ok: test
        with pytest.raises(Exception, match="payments_payment rows are kept"):
            await Payment.delete(force=True)  # tenant-scope-ok: test


class TestAdvanceAtSignature:
    """The conventions are signed on 15/12/2025 and start on 01/01/2026: the advance is asked
    for and paid at signature, before the start."""

    async def test_the_advance_is_requested_and_paid_on_the_signature_day(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        from portal.payments import repository

        await login(client, money.finance.email)
        advance = (await lines_of(money, await subsidy(client, money)))[0]
        url = f"{money.base}/lignes/{advance['id']}"
        early = await post(client, f"{url}/demande", {"requested_on": "14/12/2025"})
        assert early.status_code == 400
        assert "ne peut pas précéder la signature de la convention (15/12/2025)" in text_of(
            early.text
        )
        asked = await post(
            client, f"{url}/demande", {"requested_on": "15/12/2025", "request_reference": "D-1"}
        )
        assert asked.status_code == 303, text_of(asked.text)[-2000:]
        paid = await pay(client, money, advance["id"], "150 000", paid_on="15/12/2025")
        assert paid.status_code == 303, text_of(paid.text)[-2000:]
        [payment] = await repository.payments(money.cast.world.tenant.scope, [advance["id"]])
        assert payment["warnings"] == [] and str(payment["paid_on"]) == "2025-12-15"
        assert (await lines_of(money, advance["schedule"]))[0]["status"] == "paid"

    async def test_a_payment_before_the_signature_needs_a_reason(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        from portal.payments import repository

        await login(client, money.finance.email)
        advance = (await lines_of(money, await subsidy(client, money)))[0]
        warned = await pay(client, money, advance["id"], "150 000", paid_on="10/12/2025")
        assert warned.status_code == 409
        assert (
            "Ce versement est daté du 10/12/2025, avant la signature de la convention "
            "(15/12/2025)" in text_of(warned.text)
        )
        assert 'name="confirm"' in warned.text and 'name="reason"' in warned.text
        scope = money.cast.world.tenant.scope
        assert await repository.payments(scope, [advance["id"]]) == []
        no_reason = await pay(
            client, money, advance["id"], "150 000", paid_on="10/12/2025", confirm="on"
        )
        assert no_reason.status_code == 400 and "Expliquez pourquoi" in text_of(no_reason.text)
        confirmed = await pay(
            client,
            money,
            advance["id"],
            "150 000",
            paid_on="10/12/2025",
            confirm="on",
            reason="Avance versée par anticipation sur décision du préfet",
        )
        assert confirmed.status_code == 303
        [payment] = await repository.payments(scope, [advance["id"]])
        assert payment["warnings"] == ["before_signature"]
        page = text_of((await client.get(f"{money.base}/lignes/{advance['id']}")).text)
        assert "confirmé malgré l'alerte (versement antérieur à la signature)" in page
