"""In Chromium: the pilot sends a frozen convention for signature; each signer opens the link
from their e-mail (one on a phone, one from their home page), receives a code by e-mail and
signs, typed or drawn; everyone can then download the signed PDF, whose signatures validate.
E-mails go through a real SMTP server; screenshots of the ceremony are kept."""

from __future__ import annotations

import asyncio
import io
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from typing import TypeVar

import httpx
import pypdfium2
import pytest
from playwright.async_api import Browser, Page, ViewportSize, expect

from tests.browser.conftest import ARTIFACTS
from tests.browser.test_conventions_journey import log_in
from tests.conventions.conftest import Cast, cast
from tests.services import SmtpServer, portal_server, smtp_server
from tests.signing.conftest import frozen_convention

__all__ = ["cast"]

T = TypeVar("T")
PHONE: ViewportSize = {"width": 390, "height": 844}
WAIT_SECONDS = 40


@pytest.fixture(scope="module")
def mail_and_portal() -> Iterator[tuple[SmtpServer, str]]:
    with smtp_server() as mail, portal_server(PORTAL_SMTP_URL=mail.url) as url:
        yield mail, url


async def eventually(find: Callable[[], T | None], what: str) -> T:
    """The portal's own job runner sends e-mails and applies signatures in the background."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        await asyncio.sleep(0.2)
    raise AssertionError(f"still waiting for {what}")


def mails_to(mail: SmtpServer, email: str, subject: str) -> list[str]:
    return [
        m.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        for m in mail.handler.messages
        if m["To"] == email and subject in str(m["Subject"])
    ]


async def link_for(mail: SmtpServer, base: str, email: str) -> str:
    pattern = re.compile(rf"{re.escape(base)}/signature/[A-Za-z0-9_\-]+")
    bodies = await eventually(lambda: mails_to(mail, email, "À signer"), f"invitation {email}")
    found = pattern.search(bodies[0])
    assert found, bodies[0]
    return found.group(0)


async def receive_code(page: Page, mail: SmtpServer, email: str) -> str:
    before = len(mails_to(mail, email, "Votre code de signature"))
    await page.get_by_role("button", name="Recevoir mon code par e-mail").click()
    await expect(page.get_by_role("status")).to_contain_text(f"Code envoyé à {email}")
    await eventually(lambda: len(mails_to(mail, email, "Votre code de signature")) > before, "code")
    subject = next(
        str(m["Subject"])
        for m in reversed(mail.handler.messages)
        if m["To"] == email and "Votre code de signature" in str(m["Subject"])
    )
    return subject.rsplit(" ", 1)[1]


async def sign(page: Page, mail: SmtpServer, email: str, shot: str, drawn: bool = False) -> None:
    await expect(page.get_by_role("heading", name="1. Recevoir votre code")).to_be_visible()
    code = await receive_code(page, mail, email)
    await page.get_by_label("Code reçu par e-mail").fill(code)
    if drawn:
        await page.get_by_label("Tracée (au doigt ou à la souris)").check()
        canvas = page.get_by_label("Zone de tracé de la signature")
        await expect(canvas).to_be_visible()
        box = await canvas.bounding_box()
        assert box is not None
        await page.mouse.move(box["x"] + 20, box["y"] + box["height"] * 0.7)
        await page.mouse.down()
        for x, y in ((0.25, 0.2), (0.4, 0.8), (0.6, 0.25), (0.85, 0.6)):
            await page.mouse.move(
                box["x"] + box["width"] * x, box["y"] + box["height"] * y, steps=8
            )
        await page.mouse.up()
    else:
        await page.get_by_label("Nom tel qu'il apparaîtra").fill("Lu et approuvé")
    await page.get_by_label(re.compile("J'ai lu la convention et je la signe")).check()
    await page.screenshot(path=str(ARTIFACTS / f"{shot}-avant.png"), full_page=True)
    await page.get_by_role("button", name="Signer la convention").click()
    await expect(page.get_by_role("heading", name="Merci")).to_be_visible()
    await page.screenshot(path=str(ARTIFACTS / f"{shot}-signe.png"), full_page=True)


class TestSigningJourney:
    async def test_each_signer_signs_in_chromium(
        self,
        client: httpx.AsyncClient,
        cast: Cast,
        mail_and_portal: tuple[SmtpServer, str],
        browser_page,  # type: ignore[no-untyped-def]
    ) -> None:
        from portal.settings import get_settings
        from portal.signing import authority, files
        from portal.signing.pades.validation import validate

        mail, base = mail_and_portal
        page: Page = browser_page
        browser: Browser = page.context.browser  # type: ignore[assignment]
        errors: list[str] = []

        def watch(p: Page) -> Page:
            p.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            return p

        watch(page)
        path = await frozen_convention(client, cast)
        tenant = cast.world.tenant
        await log_in(page, f"{base}/c/{tenant.slug}/", tenant.pilot.email)

        # The pilot sends the frozen version: one signer per party, bailleurs first.
        await page.goto(f"{base}{path}")
        await page.get_by_role("link", name="Envoyer en signature, suivre les signatures").click()
        people = {
            "Bailleur alpha-habitat": ("Pilote Alpha", tenant.pilot.email),
            "Association Deux": ("Aide Deux", cast.association2_worker.email),
            "Association alpha-habitat": ("Référente Alpha", tenant.association_worker.email),
        }
        for n in range(3):
            party = await page.locator(f"#p-{n}-party option:checked").inner_text()
            # The convention names "Claire Martin", who has no account: no address is guessed.
            assert await page.get_by_label(f"E-mail, ligne {n + 1}", exact=True).input_value() == ""
            name, email = people[party]
            await page.get_by_label(f"Prénom et nom, ligne {n + 1}", exact=True).fill(name)
            await page.get_by_label(f"E-mail, ligne {n + 1}", exact=True).fill(email)
        assert [await page.locator(f"#p-{n}-step").input_value() for n in range(3)] == [
            "1",
            "2",
            "2",
        ]
        await page.screenshot(path=str(ARTIFACTS / "signature-envoi.png"), full_page=True)
        await page.get_by_role("button", name="Envoyer en signature").click()
        await expect(page.get_by_role("status")).to_contain_text("Demande de signature envoyée")

        # Step 1, the pilot, from the e-mailed link.
        mailbox = await browser.new_context(locale="fr-FR")
        pilot = watch(await mailbox.new_page())
        await pilot.goto(await link_for(mail, base, tenant.pilot.email))
        await sign(pilot, mail, tenant.pilot.email, "ceremonie-bailleur")

        # Step 2: both associations, in any order. Aide Deux on a phone, drawing.
        phone_context = await browser.new_context(locale="fr-FR", viewport=PHONE, is_mobile=True)
        phone = watch(await phone_context.new_page())
        await phone.goto(await link_for(mail, base, cast.association2_worker.email))
        width = await phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the ceremony scrolls sideways on a phone"
        await sign(phone, mail, cast.association2_worker.email, "ceremonie-telephone", True)

        # The référente has an account: her home page lists what awaits her signature.
        other = await browser.new_context(locale="fr-FR")
        worker = watch(await other.new_page())
        await link_for(mail, base, tenant.association_worker.email)  # invited at step 2
        await log_in(worker, f"{base}/c/{tenant.slug}/", tenant.association_worker.email)
        awaiting = worker.locator("#awaiting-title").locator("..")
        await expect(awaiting).to_contain_text("à signer au nom de Association alpha-habitat")
        await awaiting.get_by_role("link").click()
        await sign(worker, mail, tenant.association_worker.email, "ceremonie-association")

        # Completed: the pilot's page says so and offers the signed PDF with its certificate.
        await eventually(
            lambda: mails_to(mail, tenant.pilot.email, "Convention signée"), "completion"
        )
        await page.reload()
        await expect(page.locator("main")).to_contain_text("Terminée : convention signée")
        await page.screenshot(path=str(ARTIFACTS / "signature-terminee.png"), full_page=True)
        async with page.expect_download() as download_info:
            await page.get_by_role("link", name="Les deux (ZIP)").click()
        archive = zipfile.ZipFile((await (await download_info.value).path()).open("rb"))
        signed = archive.read(next(n for n in archive.namelist() if n.endswith("-signee.pdf")))

        seal = authority.ensure_test_authority(get_settings().signing_dir)
        reports = await files.cpu(validate, signed, seal.trust_roots, seal.crls)
        assert sorted(r.signer_name for r in reports) == [
            "Aide Deux",
            "Pilote Alpha",
            "Référente Alpha",
        ]
        assert all(r.intact and r.valid and r.trusted and r.bottom_line for r in reports)
        document = pypdfium2.PdfDocument(io.BytesIO(signed))
        document.init_forms()  # the stamps are the signature fields' appearances
        document[len(document) - 1].render(scale=1.5).to_pil().save(
            ARTIFACTS / "convention-signee-signatures.png"
        )
        for context in (mailbox, phone_context, other):
            await context.close()
        assert errors == []
