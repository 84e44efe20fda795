"""In Chromium: a pilot drafts a partnership convention from the default model, an association
worker comments on an article, the pilot freezes it and downloads the PDF to sign."""

from __future__ import annotations

import io
import re

import pypdfium2
from playwright.async_api import Page, expect
from pypdf import PdfReader

from portal.core.templating import euros
from tests.browser.conftest import ARTIFACTS
from tests.conftest import PASSWORD, World


async def log_in(page: Page, url: str, email: str) -> None:
    await page.goto(url)
    await page.get_by_label("Adresse e-mail").fill(email)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(url)


async def add_line(page: Page, side: str, fields: dict[str, str], category: str) -> None:
    form = page.locator("form", has=page.locator(f"#f-{side}_label"))
    for label, value in fields.items():
        await form.get_by_label(label, exact=True).fill(value)
    await form.locator(f"#f-{side}_category").select_option(category)
    if side == "resource":
        await form.get_by_label("Confirmée (sinon prévisionnelle)").check()
    await form.get_by_role("button").click()
    await page.wait_for_load_state()


class TestConventionJourney:
    async def test_draft_comment_freeze_and_download(
        self,
        world: World,
        live_server: str,
        browser_page,  # type: ignore[no-untyped-def]
    ) -> None:
        page: Page = browser_page
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tenant = world.tenant
        home = f"{live_server}/c/{tenant.slug}/"
        await log_in(page, home, tenant.pilot.email)

        # A partnership convention from the default model.
        await page.get_by_role("link", name="Conventions", exact=True).click()
        await page.get_by_label("Convention de partenariat (bailleurs et associations)").check()
        await page.get_by_label("Titre", exact=True).fill("Convention AVDL Rhône 2027-2028")
        await page.get_by_role("button", name="Créer à partir du modèle").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(
            "Convention AVDL Rhône 2027-2028"
        )
        convention_url = page.url
        articles = page.locator(".article-list > li")
        assert await articles.count() == 12

        # Structured data: dates, duration, households.
        info = page.locator("#informations")
        await info.get_by_label("Date de début").fill("01/01/2027")
        await info.get_by_label("Durée").select_option("24")
        await info.get_by_label("Nombre de ménages visé").fill("100")
        await info.get_by_role("button", name="Enregistrer les informations").click()
        await expect(page.locator(".lead")).to_contain_text("du 01/01/2027 au 31/12/2028")

        # Signatories and référents of every party.
        parties = page.locator("#parties tbody tr")
        for index in range(await parties.count()):
            row = page.locator("#parties tbody tr").nth(index)
            await row.locator("summary").click()
            await row.get_by_label("Signataire (prénom et nom)").fill(f"Signataire {index + 1}")
            await row.get_by_label("Qualité du signataire").fill("Directeur général")
            # The text names the référents: without one, freezing is refused.
            await row.get_by_label("Référent", exact=True).fill(f"Référent {index + 1}")
            await row.get_by_role("button", name="Enregistrer").click()
            await page.wait_for_load_state()
        await expect(page.locator("#parties")).not_to_contain_text("à désigner")

        # A balanced financing plan.
        await page.get_by_role("link", name="Budget détaillé", exact=True).click()
        await add_line(
            page,
            "expense",
            {"Poste": "Accompagnement social des ménages", "Montant (€)": "120 000,00"},
            "accompaniment",
        )
        await add_line(
            page,
            "expense",
            {"Poste": "Coordination et pilotage", "Montant (€)": "14 500,50"},
            "engineering",
        )
        await add_line(
            page,
            "resource",
            {"Ressource": "Subvention FNAVDL", "Montant (€)": "110 000"},
            "state_fund",
        )
        await expect(page.locator("#equilibre")).to_contain_text(f"Il manque {euros(2_450_050)}")
        await add_line(
            page,
            "resource",
            {"Ressource": "Fonds propres des bailleurs", "Montant (€)": "24 500,50"},
            "lessors",
        )
        await expect(page.locator("#equilibre")).to_contain_text(euros(13_450_050))
        await expect(page.locator("#equilibre")).to_have_class(re.compile("alert--info"))

        await page.goto(convention_url)
        await page.get_by_role("button", name="Soumettre en relecture").click()
        await expect(page.locator(".lead")).to_contain_text("En relecture")

        # The association worker comments on article 2 and mentions the pilot.
        other = await page.context.browser.new_context(locale="fr-FR")  # type: ignore[union-attr]
        worker = await other.new_page()
        worker.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await log_in(worker, home, tenant.association_worker.email)
        await worker.goto(convention_url)
        await worker.locator(".article-list > li").nth(1).get_by_role("link").click()
        await expect(worker.locator("#f-comment-hint")).to_contain_text("@pilote")
        comment = "@pilote Précisons le délai de réponse au diagnostic : quinze jours."
        await worker.get_by_label("Nouveau commentaire").fill(comment)
        await worker.get_by_role("button", name="Publier le commentaire").click()
        await expect(worker.locator(".comment__body")).to_have_text(comment)
        await worker.screenshot(path=str(ARTIFACTS / "convention-comment.png"), full_page=True)
        await other.close()

        # The pilot is told, reads the thread, then freezes the convention.
        await page.goto(convention_url)
        await expect(page.locator(".article-list")).to_contain_text("1 discussion ouverte")
        await page.get_by_role("link", name="Notifications").click()
        await expect(page.locator("main")).to_contain_text("vous mentionne")
        await page.goto(convention_url)
        # What the text still lacks is listed before freezing, each with a link to its field.
        blockers = page.locator(".alert--error").filter(has_text="Avant de figer")
        await expect(blockers).to_contain_text(
            "Article 1 « Objet de la convention » : indiquez le territoire"
        )
        await blockers.get_by_role("link", name="Compléter").first.click()
        await expect(page.get_by_label("Territoire")).to_be_focused()
        info = page.locator("#informations")
        await info.get_by_label("Territoire").fill("Métropole de Lyon")
        await info.get_by_label("Diagnostic, par ménage (€)").fill("450")
        await info.get_by_label("Accompagnement, par ménage et par an (€)").fill("1 400")
        await info.get_by_label("Gestion locative adaptée, par logement et par an (€)").fill("900")
        await info.get_by_role("button", name="Enregistrer les informations").click()
        await expect(page.locator(".alert--error").filter(has_text="Avant de figer")).to_have_count(
            0
        )
        await page.get_by_role("button", name="Figer pour signature").click()
        await expect(page.locator(".lead")).to_contain_text("Prête à signer")

        link = page.get_by_role("link", name=re.compile(r"Version \d+ figée pour signature"))
        async with page.expect_download() as download_info:
            await link.click()
        download = await download_info.value
        path = await download.path()
        assert download.suggested_filename.endswith(".pdf")
        data = path.read_bytes()

        reader = PdfReader(io.BytesIO(data))
        text = "\n".join(p.extract_text() for p in reader.pages)
        flat = re.sub(r"\s+", " ", text)
        assert "Bailleur alpha-habitat" in flat and "Association alpha-habitat" in flat
        assert "134 500,50 €" in flat  # expenses and resources totals
        assert "120 000,00 €" in flat and "110 000,00 €" in flat
        assert f"page 1 / {len(reader.pages)}" in flat
        assert "Signataire 1" in flat and "Signataire 2" in flat

        # The first page, as the signatories will see it.
        document = pypdfium2.PdfDocument(data)
        image = document[0].render(scale=1.5).to_pil()
        image.save(ARTIFACTS / "convention-first-page.png")
        assert image.width > 800
        await page.screenshot(path=str(ARTIFACTS / "convention-frozen.png"), full_page=True)
        assert errors == []
