"""A pilot logs in with Chromium and reaches the consortium home page."""

from __future__ import annotations

from tests.browser.conftest import ARTIFACTS
from tests.conftest import PASSWORD, World


class TestLoginJourney:
    async def test_pilot_logs_in_and_sees_the_consortium_home(
        self,
        world: World,
        live_server: str,
        browser_page,  # type: ignore[no-untyped-def]
    ) -> None:
        page = browser_page
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        await page.goto(f"{live_server}/c/{world.tenant.slug}/")
        # Anonymous: sent to the login page, then back where they wanted to go.
        await page.get_by_label("Adresse e-mail").fill(world.tenant.pilot.email)
        await page.get_by_label("Mot de passe").fill(PASSWORD)
        await page.get_by_role("button", name="Se connecter").click()
        await page.wait_for_url(f"{live_server}/c/{world.tenant.slug}/")
        assert await page.get_by_role("heading", level=1).inner_text() == "Consortium alpha-habitat"
        assert await page.get_by_text("Association alpha-habitat").first.is_visible()
        await page.screenshot(path=str(ARTIFACTS / "consortium-home.png"), full_page=True)
        # Keyboard users meet the skip link first.
        await page.keyboard.press("Tab")
        focused = await page.evaluate("document.activeElement.textContent")
        assert focused.strip() == "Aller au contenu"
        assert errors == []  # e.g. no CSP violation
        assert (ARTIFACTS / "consortium-home.png").stat().st_size > 10_000
