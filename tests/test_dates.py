"""Dates people type: only a plausible range (2000–2100) is accepted, by every form, with a
French message next to the field and nothing stored; and a date already stored outside it
(before this rule) does not break the pages that show it."""

from __future__ import annotations

import datetime as dt
import html
import uuid

import httpx

from tests.conftest import World, login
from tests.conventions.conftest import Cast, cast, convention_row, create, post
from tests.payments.conftest import Money, money, schedule_form

__all__ = ["cast", "money"]

RANGE = "Indiquez une date comprise entre le 01/01/2000 et le 31/12/2100."


def field_error(page: str, name: str) -> str:
    """The message shown next to field `name` (empty when there is none)."""
    marker = f'id="f-{name}-error"'
    if marker not in page:
        return ""
    return html.unescape(page.split(marker, 1)[1].split("</p>", 1)[0])


async def deadlines_of(world: World) -> list[dict[str, object]]:
    from portal.deadlines import service

    return await service.listing(world.tenant.scope)


async def items_of(world: World) -> list[dict[str, object]]:
    from portal.documents import service

    return await service.items_of(world.tenant.scope)


class TestFormsRefuseImplausibleDates:
    async def test_a_convention_starting_in_9998_is_refused(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast)
        response = await post(
            client,
            f"{url}/informations",
            {
                "title": "Convention de partenariat",
                "starts_on": "01/01/9998",
                "duration_months": "24",
                "revision": "1",
            },
        )
        assert response.status_code == 400
        assert RANGE in field_error(response.text, "starts_on")
        assert (await convention_row(url))["starts_on"] is None
        # The convention's pages still answer.
        assert (await client.get(url)).status_code == 200
        assert (await client.get(cast.base)).status_code == 200

    async def test_a_deadline_on_31_12_9999_is_refused(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        path = f"/c/{world.tenant.slug}/echeances"
        response = await post(client, path, {"title": "Bilan final", "due_on": "31/12/9999"})
        assert response.status_code == 400
        assert RANGE in field_error(response.text, "due_on")
        # The date field's own format is bounded too.
        response = await post(client, path, {"title": "Bilan final", "due_on": "9999-12-31"})
        assert response.status_code == 400 and RANGE in field_error(response.text, "due_on")
        assert await deadlines_of(world) == []

    async def test_a_quarterly_request_starting_in_1026_is_refused(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        response = await post(
            client,
            f"/c/{world.tenant.slug}/pieces",
            {
                "title": "Rapport trimestriel",
                "organisation": str(world.tenant.association_id),
                "recurrence": "quarterly",
                "starts_on": "01/01/1026",
                "days_after_period": "30",
            },
        )
        assert response.status_code == 400
        assert RANGE in field_error(response.text, "starts_on")
        assert await items_of(world) == []

    async def test_a_one_off_request_due_in_9999_is_refused(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        response = await post(
            client,
            f"/c/{world.tenant.slug}/pieces",
            {
                "title": "Bilan",
                "organisation": str(world.tenant.association_id),
                "recurrence": "once",
                "due_on": "31/12/9999",
            },
        )
        assert response.status_code == 400
        assert RANGE in field_error(response.text, "due_on")
        assert await items_of(world) == []

    async def test_an_installment_expected_in_9999_is_refused(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await login(client, money.finance.email)
        data = schedule_form(
            money.state_convention,
            "subsidy",
            beneficiary=money.lessor,
            payer_name="CGLLS",
            total="300 000,00",
            lines=[
                {
                    "label": "Avance",
                    "amount": "300 000",
                    "expected_on": "31/12/9999",
                    "trigger": "date",
                },
            ],
        )
        response = await post(client, f"{money.base}/nouveau", data)
        assert response.status_code == 400
        assert RANGE in field_error(response.text, "l-0-expected_on")
        from portal.payments import repository
        from portal.payments.access import Sight

        scope = money.cast.world.tenant.scope
        assert await repository.schedules(scope, Sight(everything=True)) == []


class TestServicesRefuseImplausibleDates:
    async def test_a_deadline_created_without_the_form_is_refused(self, world: World) -> None:
        """A caller that is not a form (an import, a script) meets the same rule."""
        import pytest

        from portal.core.forms import FieldError
        from portal.deadlines import service
        from portal.tenants import service as tenants

        ctx = await tenants.resolve_tenant(world.tenant.slug, world.tenant.pilot.id)
        assert ctx is not None
        with pytest.raises(FieldError) as refused:
            await service.create(
                ctx,
                {
                    "title": "Bilan",
                    "description": "",
                    "due_on": dt.date(9999, 12, 31),
                    "organisation": None,
                },
            )
        assert refused.value.field == "due_on" and refused.value.message == RANGE
        assert await deadlines_of(world) == []


class TestPagesShowStoredAbsurdDates:
    """Rows written before the range existed: shown, never a 500."""

    async def test_a_convention_starting_in_9998(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        from portal.conventions import repository

        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast)
        convention_id = uuid.UUID(url.rsplit("/", 1)[1])
        scope = cast.world.tenant.scope
        assert await repository.update_convention(
            scope, convention_id, {"starts_on": dt.date(9998, 6, 1), "duration_months": 24}
        )
        for path in (url, cast.base, f"{url}/budget", f"{url}/historique"):
            response = await client.get(path)
            assert response.status_code == 200, path
        assert "01/06/9998" in (await client.get(url)).text

    async def test_a_deadline_and_a_document_due_on_31_12_9999(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        from portal.deadlines import repository as deadlines
        from portal.documents import repository as documents

        scope = world.tenant.scope
        pilot = world.tenant.pilot.id
        far = dt.date(9999, 12, 31)
        await deadlines.insert(
            scope, {"title": "Bilan lointain", "due_on": far, "organisation": None}, pilot
        )
        request_id = await documents.insert_request(
            scope,
            {
                "organisation": world.tenant.association_id,
                "title": "Pièce lointaine",
                "recurrence": "once",
                "due_on": far,
            },
            pilot,
        )
        await documents.insert_item(
            scope,
            {
                "request": request_id,
                "organisation": world.tenant.association_id,
                "period_start": far,
                "due_on": far,
                "status": "expected",
            },
        )
        [item] = await items_of(world)
        await login(client, world.tenant.pilot.email)
        base = f"/c/{world.tenant.slug}"
        for path in (f"{base}/echeances", f"{base}/pieces", f"{base}/pieces/{item['id']}", "/"):
            response = await client.get(path)
            assert response.status_code == 200, path
        assert "31/12/9999" in (await client.get(f"{base}/echeances")).text


class TestSigningExpiry:
    async def test_a_request_expiring_on_31_12_9999_is_refused(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        from portal.signing import repository
        from tests.signing.conftest import frozen_convention, three_steps

        url = await frozen_convention(client, cast)
        response = await post(
            client, f"{url}/signature", three_steps(cast) | {"expires_on": "31/12/9999"}
        )
        assert response.status_code == 422
        assert RANGE in field_error(response.text, "expires_on")
        convention_id = uuid.UUID(url.rsplit("/", 1)[1])
        assert await repository.requests_of(cast.world.tenant.scope, convention_id) == []


class TestFrenchFormats:
    """What every page writes: `1 234,56 €` (narrow no-break space between thousands,
    no-break space before the sign) and `22/11/2026`, the day as Paris sees it."""

    def test_amounts(self) -> None:
        from portal.core.templating import euros

        assert euros(123456) == "1\u202f234,56\xa0€"
        assert euros(0) == "0,00\xa0€"
        assert euros(5) == "0,05\xa0€"
        assert euros(-1_000_000_00) == "-1\u202f000\u202f000,00\xa0€"
        assert euros(10**13) == "100\u202f000\u202f000\u202f000,00\xa0€"
        assert euros(None) == ""

    def test_amounts_as_babel_writes_them(self) -> None:
        """`euros` applies Babel's French currency format read once; Babel's own
        `format_currency` must agree on every kind of amount."""
        import random
        from decimal import Decimal

        from babel.numbers import format_currency

        from portal.core.templating import euros

        draw = random.Random(2026)
        amounts = [0, 1, 99, 100, 999_99, 1000_00, 123_456_789, 10**13, -1, -100_000]
        amounts += [draw.randrange(-(10**12), 10**13) for _ in range(2000)]
        for cents in amounts:
            assert euros(cents) == format_currency(Decimal(cents) / 100, "EUR", locale="fr_FR")

    def test_dates(self) -> None:
        from portal.core.templating import date_fr, datetime_fr

        assert date_fr(dt.date(2026, 11, 22)) == "22/11/2026"
        assert date_fr(dt.date(2001, 2, 3)) == "03/02/2001"
        # 23:30 UTC on 31 December is already the new year in Paris.
        late = dt.datetime(2026, 12, 31, 23, 30, tzinfo=dt.UTC)
        assert date_fr(late) == "01/01/2027"
        assert datetime_fr(late) == "01/01/2027 à 00:30"
        assert date_fr(None) == ""
