"""In Chromium: an association worker orients a household, records its consent with the signed
authorisation, writes its diagnostic and sends the housing synthesis to the bailleur; the
bailleur's GLA référent reads that synthesis and nothing else of the diagnostic, and raises an
unpaid-rent alert, which the worker takes into account. Scripts are off throughout; the main
pages are kept as screenshots, on a desktop and on a phone."""

from __future__ import annotations

import io
from typing import Any

from playwright.async_api import Browser, FilePayload, Page, ViewportSize, expect
from pypdf import PdfWriter

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_conventions_journey import log_in
from tests.households.conftest import Home, home

__all__ = ["home"]

DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
PRIVATE = "Suivi au CMP de Villeurbanne depuis mars, traitement en cours."
HOUSING = (
    "Bail glissant visé sur le T3 de la rue des Lilas.\nPlan d'apurement de 80 € par mois accepté."
)
ALERT_NOTE = "Loyers d'octobre et de novembre impayés ; le ménage ne répond plus."


def authorisation_pdf() -> bytes:
    """A real one-page PDF, as a scanner would send it."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": "Autorisation de partage de la synthèse logement"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def menu(page: Page, name: str) -> None:
    """The consortium's menu (a household's file also links back to « Ménages »)."""
    nav = page.get_by_role("navigation", name="Espace du consortium")
    await nav.get_by_role("link", name=name, exact=True).click()


class Person:
    """One member in two browser contexts sharing one session: the journey's desktop page,
    and a phone-sized page that shows the same addresses for the screenshots."""

    def __init__(self, desktop: Page, phone: Page) -> None:
        self.page = desktop
        self.phone = phone

    async def shoot(self, name: str, *, on_phone: bool = True, fits_phone: bool = True) -> None:
        await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        if not on_phone:
            return
        await self.phone.goto(self.page.url)
        await self.phone.screenshot(path=str(ARTIFACTS / f"{name}-telephone.png"), full_page=True)
        if fits_phone:
            width = await self.phone.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{name} scrolls sideways on a phone ({width} px)"


class TestHouseholdsJourney:
    async def test_orientation_consent_synthesis_and_alert(
        self,
        home: Home,
        live_server: str,
        browser_page,  # type: ignore[no-untyped-def]
    ) -> None:
        browser: Browser = browser_page.context.browser
        errors: list[str] = []
        start = f"{live_server}/c/{home.slug}/"

        async def page_in(**options: Any) -> Page:
            # Scripts off: every page of the journey must work without JavaScript.
            context = await browser.new_context(
                locale="fr-FR", java_script_enabled=False, **options
            )
            page = await context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            return page

        async def signed_in(email: str) -> Person:
            desktop = await page_in(viewport=DESKTOP)
            await log_in(desktop, start, email)
            state = await desktop.context.storage_state()
            phone = await page_in(
                viewport=PHONE, is_mobile=True, has_touch=True, storage_state=state
            )
            return Person(desktop, phone)

        worker = await signed_in(home.worker.email)
        page = worker.page

        # 1. A new orientation, towards the consortium's bailleur.
        await menu(page, "Ménages")
        await expect(page.get_by_role("heading", level=1)).to_have_text("File active")
        await page.get_by_role("link", name="Nouvelle orientation").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Nouvelle orientation")
        await page.get_by_label("Convention du projet").select_option(
            label="AVDL-2026-01 – Accompagnement vers et dans le logement"
        )
        await page.get_by_label("Orienté par").select_option(label="SIAO")
        await page.get_by_label("Date de l'orientation").fill("05/10/2026")
        await page.get_by_label("Motif de l'orientation").fill(
            "Impayés de loyer après une séparation"
        )
        await page.get_by_label("Nom de la personne de référence").fill("Dubreuil")
        await page.get_by_label("Prénom").fill("Odile")
        await page.get_by_label("Nombre d'adultes").fill("1")
        await page.get_by_label("Nombre d'enfants").fill("2")
        await page.get_by_label("Bailleur").select_option(label="Bailleur alpha-habitat")
        await worker.shoot("menage-orientation")
        await page.get_by_role("button", name="Orienter le ménage").click()
        await expect(page.get_by_role("status")).to_contain_text("son dossier est ouvert")
        await expect(page.get_by_role("heading", level=1)).to_contain_text("Ménage M-2026-0001")
        await expect(page.locator(".lead")).to_contain_text("logé par Bailleur alpha-habitat")
        file_url = page.url

        # 2. The household's consent to share the housing synthesis, with the signed scan.
        tabs = page.get_by_role("navigation", name="Dossier du ménage")
        await tabs.get_by_role("link", name="Consentements").click()
        await expect(page.get_by_label("Synthèse : le projet logement")).to_be_checked()
        await expect(page.get_by_label("Santé et autonomie (jamais transmise")).not_to_be_checked()
        await page.get_by_label("Bailleur alpha-habitat").check()
        await expect(page.get_by_label("Bailleur Deux")).not_to_be_checked()
        await page.get_by_label("Réponse du ménage").select_option(label="Il donne son accord")
        scan = authorisation_pdf()
        upload: FilePayload = {
            "name": "autorisation.pdf",
            "mimeType": "application/pdf",
            "buffer": scan,
        }
        await page.get_by_label("Autorisation signée par le ménage").set_input_files(upload)
        await page.get_by_role("button", name="Enregistrer le consentement").click()
        await expect(page.get_by_role("status")).to_contain_text("Consentement enregistré")
        consents = page.locator("article.card", has=page.get_by_text("Recueilli le"))
        await expect(consents).to_contain_text("Transmettre la synthèse logement au bailleur")
        await expect(consents).to_contain_text("En cours")
        await expect(consents).to_contain_text("Destinataires")
        await expect(consents).to_contain_text("Bailleur alpha-habitat")
        # The scan comes back as it was given (sealed in storage, opened for the association).
        async with page.expect_download() as download_info:
            await consents.get_by_role("link", name="Télécharger").click()
        download = await download_info.value
        assert download.suggested_filename == "autorisation-M-2026-0001.pdf"
        assert (await download.path()).read_bytes() == scan
        await worker.shoot("menage-consentement")

        # 3. The diagnostic: a private section, then the housing synthesis, which is sent.
        await tabs.get_by_role("link", name="Diagnostic").click()
        # Both sections typed, one save: nothing typed is lost.
        await page.get_by_role("textbox", name="Santé et autonomie").fill(PRIVATE)
        await page.get_by_role("textbox", name="Synthèse : le projet logement").fill(HOUSING)
        await page.get_by_role("button", name="Enregistrer le diagnostic").click()
        await expect(page.get_by_role("status")).to_contain_text("Diagnostic enregistré")
        await expect(page.get_by_role("textbox", name="Santé et autonomie")).to_have_value(PRIVATE)
        await expect(
            page.get_by_role("textbox", name="Synthèse : le projet logement")
        ).to_have_value(HOUSING)
        await worker.shoot("menage-diagnostic-association")
        await tabs.get_by_role("link", name="Consentements").click()
        await page.get_by_role("button", name="Transmettre la synthèse logement à").click()
        await expect(page.get_by_role("status")).to_contain_text(
            "Synthèse logement transmise au bailleur"
        )
        await expect(page.locator("main")).to_contain_text(
            "synthèse logement transmise à Bailleur alpha-habitat"
        )

        # 4. The bailleur's GLA référent reads the synthesis, and only it, then alerts.
        gla = await signed_in(home.gla.email)
        lessor = gla.page
        await menu(lessor, "Ménages")
        await lessor.get_by_role("link", name="M-2026-0001").click()
        await expect(lessor.get_by_role("heading", level=1)).to_contain_text("Dubreuil")
        lessor_tabs = lessor.get_by_role("navigation", name="Dossier du ménage")
        await expect(lessor_tabs).not_to_contain_text("Consentements")
        await lessor_tabs.get_by_role("link", name="Diagnostic").click()
        main = lessor.locator("main")
        await expect(main).to_contain_text(HOUSING)
        await expect(main).not_to_contain_text(PRIVATE)
        await expect(main).not_to_contain_text("Santé et autonomie")
        assert PRIVATE not in await lessor.content()
        await gla.shoot("menage-diagnostic-bailleur")
        assert PRIVATE not in await gla.phone.content()
        await lessor_tabs.get_by_role("link", name="Alertes").click()
        await lessor.get_by_label("Motif").select_option(label="Impayé de loyer")
        await lessor.get_by_label("Ce qui se passe").fill(ALERT_NOTE)
        await lessor.get_by_role("button", name="Envoyer l'alerte").click()
        await expect(lessor.get_by_role("status")).to_contain_text("le partenaire est prévenu")
        await expect(main).to_contain_text("Impayé de loyer")
        await expect(main).to_contain_text("En attente")
        await gla.shoot("menage-alerte-bailleur", on_phone=False)

        # 5. The worker's inbox: the alert, taken into account.
        await menu(page, "Ménages")
        await (
            page.get_by_role("navigation", name="Ménages")
            .get_by_role("link", name="Alertes")
            .click()
        )
        alert = page.locator("article", has_text="M-2026-0001")
        await expect(alert).to_contain_text("Impayé de loyer")
        await expect(alert).to_contain_text(ALERT_NOTE)
        await expect(alert).to_contain_text("En attente de prise en compte")
        await worker.shoot("menage-alertes")
        await alert.get_by_role("button", name="Prendre en compte").click()
        await expect(page.get_by_role("status")).to_contain_text("Alerte prise en compte")
        await expect(alert).to_contain_text("Prise en compte le")
        await expect(alert.get_by_role("button", name="Prendre en compte")).to_have_count(0)
        await worker.shoot("menage-alertes-prise-en-compte", on_phone=False)
        await lessor.goto(f"{file_url}/alertes")
        await expect(lessor.locator("main")).to_contain_text("Prise en compte le")

        for person in (worker, gla):
            await person.page.context.close()
            await person.phone.context.close()
        assert errors == []
