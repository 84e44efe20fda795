"""The convention's PDF (cover, numbered articles, budget tables, page numbers, signature blocks,
annexes appended) and the budget annex's arithmetic, as declared."""

from __future__ import annotations

import io

import httpx
import pytest
from pypdf import PdfReader

from tests.conftest import login
from tests.conventions.conftest import Cast, create, make_ready_to_freeze, post, set_status


def pdf_text(content: bytes) -> tuple[str, int]:
    reader = PdfReader(io.BytesIO(content))
    text = "\n".join(page.extract_text() for page in reader.pages)
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split()), len(reader.pages)


def annex_pdf(pages: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def upload_annex(
    client: httpx.AsyncClient, url: str, title: str, name: str, content: bytes
) -> httpx.Response:
    from tests.conftest import csrf_token

    token = await csrf_token(client, "/")
    return await client.post(
        f"{url}/annexes",
        data={"csrf_token": token, "title": title},
        files={"file": (name, content, "application/pdf")},
    )


class TestPdf:
    async def test_frozen_pdf_has_parties_articles_budget_and_annexes(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast)
        await make_ready_to_freeze(client, url, cast)
        response = await upload_annex(client, url, "Fiche navette", "fiche.pdf", annex_pdf(2))
        assert response.status_code == 303, response.text
        draft, draft_pages = pdf_text((await client.get(f"{url}/projet.pdf")).content)
        assert "PROJET – document de travail" in draft
        await set_status(client, url, "review")
        assert (await set_status(client, url, "ready")).status_code == 303
        text, pages = pdf_text((await client.get(f"{url}/versions/2.pdf")).content)
        assert "Convention de partenariat AVDL Rhône" in text
        for party in ("Bailleur alpha-habitat", "Association alpha-habitat", "Association Deux"):
            assert party in text
        assert "Article 1 – Objet de la convention" in text
        assert "Article 12 – Résiliation" in text
        assert "Total des dépenses" in text and "345 000,00 €" in text
        assert "FNAVDL hors DALO" in text
        assert "Le plan de financement est équilibré." in text
        assert "Diagnostic par ménage" in text and "15 000,00 €" in text
        assert "Signatures" in text and "Claire Martin, Directrice" in text
        # The annex's two pages come after the convention's own, numbered "page X / Y".
        own = pages - 2
        assert f"page 1 / {own}" in text and f"page {own} / {own}" in text
        assert "PROJET" not in text  # the frozen version is not a working document
        assert pages == draft_pages
        reader = PdfReader(io.BytesIO((await client.get(f"{url}/versions/2.pdf")).content))
        assert reader.metadata is not None and reader.metadata.title == (
            "Convention de partenariat AVDL Rhône"
        )

    async def test_annex_must_be_a_pdf(self, client: httpx.AsyncClient, cast: Cast) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast)
        response = await upload_annex(client, url, "Budget", "budget.pdf", b"col1;col2\n1;2\n")
        assert response.status_code == 400
        assert "Une annexe de convention doit être un fichier PDF." in response.text or (
            "ne correspond pas" in response.text
        )
        response = await upload_annex(client, url, "", "fiche.pdf", annex_pdf(1))
        assert response.status_code == 400 and "Donnez un titre à l&#39;annexe." in response.text
        page = (await client.get(url)).text
        assert "Aucune annexe." in page


class TestBudget:
    def test_totals_balance_and_unit_costs_as_declared(self) -> None:
        from portal.conventions.budget import summarise

        lines = [
            {
                "side": "expense",
                "category": "diagnostic",
                "amount_cents": 1_500_000,
                "eligible": True,
                "confirmed": False,
                "in_kind": False,
            },
            {
                "side": "expense",
                "category": "accompaniment",
                "amount_cents": 29_000_000,
                "eligible": True,
                "confirmed": False,
                "in_kind": False,
            },
            {
                "side": "expense",
                "category": "works",
                "amount_cents": 100_000,
                "eligible": False,
                "confirmed": False,
                "in_kind": False,
            },
            {
                "side": "resource",
                "category": "state_fund",
                "amount_cents": 20_000_000,
                "eligible": True,
                "confirmed": True,
                "in_kind": False,
            },
            {
                "side": "resource",
                "category": "lessors",
                "amount_cents": 10_000_000,
                "eligible": True,
                "confirmed": False,
                "in_kind": True,
            },
        ]
        convention = {
            "duration_months": 24,
            "households_target": 100,
            "homes_target": 60,
            "unit_diagnostic_cents": 15_000,
            "unit_accompaniment_cents": 150_000,
            "unit_gla_cents": 25_000,
        }
        s = summarise(lines, convention)
        assert (s.expenses_cents, s.eligible_cents, s.resources_cents) == (
            30_600_000,
            30_500_000,
            30_000_000,
        )
        assert (s.confirmed_cents, s.in_kind_cents, s.state_fund_cents) == (
            20_000_000,
            10_000_000,
            20_000_000,
        )
        assert not s.balanced and s.difference_cents == -600_000
        assert s.balance_message.startswith("Il manque 6\u202f000,00\xa0€ de ressources")
        assert [(t.code, t.cents) for t in s.by_funder] == [
            ("state_fund", 20_000_000),
            ("lessors", 10_000_000),
        ]
        units = {u.label: u for u in s.units}
        diagnostic = units["Diagnostic par ménage"]
        assert (diagnostic.expected_cents, diagnostic.declared_cents) == (1_500_000, 1_500_000)
        accompaniment = units["Accompagnement par ménage et par an"]
        # 1 500 € × 100 households × 24/12 = 300 000 €; 290 000 € declared: −10 000 € shown.
        assert accompaniment.expected_cents == 30_000_000
        assert accompaniment.difference_cents == -1_000_000
        gla = units["Gestion locative adaptée par logement et par an"]
        assert (gla.expected_cents, gla.declared_cents) == (3_000_000, 0)

    def test_an_empty_plan_is_not_balanced(self) -> None:
        from portal.conventions.budget import summarise

        s = summarise([], {"duration_months": 12})
        assert not s.balanced and "vide" in s.balance_message

    @pytest.mark.parametrize(
        ("raw", "cents"),
        [
            ("1 234,56", 123456),
            ("1234.5", 123450),
            ("15 000 €", 1500000),
            ("0,01", 1),
            ("1\u202f000", 100000),
        ],
    )
    def test_amounts_typed_the_french_way(self, raw: str, cents: int) -> None:
        from portal.core.money import parse_cents

        assert parse_cents(raw, "amount") == cents

    @pytest.mark.parametrize(
        ("raw", "message"),
        [
            ("-5", "négatif"),
            ("12,345", "deux décimales"),
            ("douze", "non reconnu"),
            ("", "Indiquez un montant"),
        ],
    )
    def test_bad_amounts_are_explained(self, raw: str, message: str) -> None:
        from portal.core.forms import FieldError
        from portal.core.money import parse_cents

        with pytest.raises(FieldError, match=message):
            parse_cents(raw, "amount")

    async def test_bad_line_is_refused_next_to_its_field(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast)
        response = await post(
            client,
            f"{url}/budget/lignes",
            {
                "side": "resource",
                "category": "",
                "label": "",
                "amount": "-3",
            },
        )
        assert response.status_code == 400
        for message in (
            "Choisissez le financeur.",
            "Décrivez la ligne",
            "Le montant ne peut pas être négatif.",
        ):
            assert message in response.text
        assert 'id="f-resource_amount-error"' in response.text
        assert "Aucune ressource." in response.text

    async def test_non_fundable_category_is_not_eligible_by_default(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast)
        for category, choice in (("works", "auto"), ("gla", "auto"), ("engineering", "no")):
            await post(
                client,
                f"{url}/budget/lignes",
                {
                    "side": "expense",
                    "category": category,
                    "label": category,
                    "amount": "100",
                    "eligible": choice,
                },
            )
        page = (await client.get(f"{url}/budget")).text
        assert "Total des dépenses (éligibles : 100,00\xa0€)" in page.replace("\u202f", " ")
