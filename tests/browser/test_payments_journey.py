"""In Chromium: finance sets up the State's subsidy from the convention, records the CGLLS's
payment, sets up a reversement and confirms an over-payment with a reason, exports the
payment-tracking file; the association then sees what it is owed and gets its statement."""

from __future__ import annotations

import re

from playwright.async_api import Locator, Page, expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_conventions_journey import log_in
from tests.payments.conftest import Money, cast, money

__all__ = ["cast", "money"]


async def choose(select: Locator, text: str) -> None:
    """Selects the option whose text contains `text`."""
    value = await select.locator("option", has_text=text).first.get_attribute("value")
    assert value is not None, text
    await select.select_option(value=value)


class TestPaymentsJourney:
    async def test_subsidy_reversement_export_and_statement(
        self,
        money: Money,
        live_server: str,
        browser_page,  # type: ignore[no-untyped-def]
    ) -> None:
        page: Page = browser_page
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        tenant = money.cast.world.tenant
        home = f"{live_server}/c/{tenant.slug}/"
        await log_in(page, home, money.finance.email)
        await page.get_by_role("link", name="Versements", exact=True).click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("Versements")

        # The State's subsidy, proposed from the convention: 300 000 € in 50/30/20.
        await page.get_by_role("link", name="Nouvel échéancier").click()
        await choose(page.get_by_label("Convention signée"), "CE-2026-001")
        await page.get_by_label("Subvention d'un financeur").check()
        await page.get_by_role("button", name="Préparer l'échéancier").click()
        await expect(page.get_by_label("Montant accordé (€)")).to_have_value("300000,00")
        await expect(page.get_by_label("Montant, échéance 2", exact=True)).to_have_value("90000,00")
        lines = page.locator(".schedule-lines tbody tr")
        await choose(lines.nth(1).get_by_label("Pièce"), "Bilan intermédiaire")
        await choose(lines.nth(2).get_by_label("Pièce"), "Bilan final")
        await page.get_by_label("Montant, échéance 3", exact=True).fill("50 000")
        await page.get_by_role("button", name="Enregistrer l'échéancier").click()
        await expect(page.locator(".alert--error")).to_contain_text("il manque 10")
        await page.get_by_label("Montant, échéance 3", exact=True).fill("60 000")
        await page.get_by_role("button", name="Enregistrer l'échéancier").click()
        await expect(page.get_by_role("status")).to_contain_text("Échéancier enregistré")

        # The advance is payable at signature: requested, then paid by the CGLLS.
        await page.get_by_role("link", name="Avance à la signature").click()
        await page.get_by_label("Date de la demande").fill("20/01/2026")
        await page.get_by_role("button", name="Enregistrer la demande").click()
        await expect(page.locator(".lead")).to_contain_text("Demandé")
        await page.get_by_label("Date du versement").fill("15/02/2026")
        await page.get_by_label("Référence du paiement").fill("CGLLS-2026-0042")
        await page.get_by_role("button", name="Enregistrer le versement").click()
        await expect(page.locator(".lead")).to_contain_text("Versé")
        await page.screenshot(path=str(ARTIFACTS / "versement-subvention.png"), full_page=True)

        # A reversement to the association, over-paid once, confirmed with a reason.
        await page.goto(f"{home}versements/nouveau")
        await choose(page.get_by_label("Convention signée"), "CP-2026-001")
        await page.get_by_label("Reversements du bailleur à une association").check()
        await page.get_by_role("button", name="Préparer l'échéancier").click()
        await page.get_by_label("Montant convenu (€)").fill("20 000")
        await page.get_by_label("Montant, échéance 1", exact=True).fill("10 000")
        await page.get_by_label("Montant, échéance 2", exact=True).fill("10 000")
        await choose(lines.nth(1).get_by_label("Pièce"), "Rapport d'activité")
        await page.get_by_role("button", name="Enregistrer l'échéancier").click()
        await expect(page.get_by_role("status")).to_contain_text("Échéancier enregistré")
        await page.get_by_role("link", name=re.compile("Avance de 50 %")).click()
        await expect(page.locator(".lead")).to_contain_text("Dû")  # the advance was received
        await page.get_by_label("Montant versé (€)").fill("10 500")
        await page.get_by_label("Date du versement").fill("01/03/2026")
        await page.get_by_label("Référence du paiement").fill("VIR-2026-0412")
        await page.get_by_role("button", name="Enregistrer le versement").click()
        await expect(page.locator(".alert--error")).to_contain_text("trop-perçu : 500,00")
        await page.screenshot(path=str(ARTIFACTS / "versement-alerte.png"), full_page=True)
        await page.get_by_label("Je confirme ce versement malgré l'alerte").check()
        await page.get_by_label("Motif").fill("Frais de déplacement du comité, convenus")
        await page.get_by_role("button", name="Enregistrer le versement").click()
        await expect(page.get_by_role("status")).to_contain_text("Versement enregistré")
        await expect(page.locator("main")).to_contain_text("confirmé malgré l'alerte")

        # The payment-tracking export, built in the background, then downloaded.
        await page.goto(f"{home}versements/exports")
        await page.get_by_role("button", name="Lancer l'export").click()
        await expect(page.get_by_role("link", name=re.compile("Télécharger"))).to_be_visible(
            timeout=20_000
        )
        async with page.expect_download() as download_info:
            await page.get_by_role("link", name=re.compile("Télécharger")).click()
        data = (await (await download_info.value).path()).read_bytes()
        assert data.startswith(b"\xef\xbb\xbf")
        text = data.decode("utf-8-sig")
        assert "CE-2026-001" in text and "150000,00" in text and "Association alpha-habitat" in text

        # The association sees what it is owed, and downloads its statement.
        other = await page.context.browser.new_context(locale="fr-FR")  # type: ignore[union-attr]
        worker = await other.new_page()
        worker.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await log_in(worker, home, tenant.association_worker.email)
        await worker.get_by_role("link", name="Versements", exact=True).click()
        await expect(worker.locator("table")).to_contain_text("Avance de 50 %")
        await expect(worker.locator("table")).not_to_contain_text("CGLLS →")  # not the subsidy
        await worker.screenshot(path=str(ARTIFACTS / "versements-association.png"), full_page=True)
        async with worker.expect_download() as download_info:
            await worker.get_by_role("link", name="Relevé de Association alpha-habitat").click()
        statement = await download_info.value
        assert statement.suggested_filename == "releve-versements-44306184100047.pdf"
        await other.close()
        # Forms refused on purpose answer 400 and 409, which Chromium logs; anything else (a
        # blocked script or style, a missing file) is an error.
        assert [e for e in errors if "status of 400" not in e and "status of 409" not in e] == []
