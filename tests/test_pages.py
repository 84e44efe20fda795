"""Security headers, French error pages, health check, accessibility statement."""

from __future__ import annotations

import html

import httpx
import pytest

from tests.conftest import World, login


class TestSecurityHeaders:
    async def test_every_response_carries_them(self, client: httpx.AsyncClient) -> None:
        for path in ("/login", "/page-inexistante", "/healthz"):
            headers = (await client.get(path)).headers
            csp = headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert "frame-ancestors 'none'" in csp
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "same-origin"

    async def test_no_inline_script_or_style_in_pages(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        for path in (
            "/",
            f"/c/{world.tenant.slug}/",
            f"/c/{world.tenant.slug}/membres",
            "/accessibilite",
        ):
            text = (await client.get(path)).text
            assert "<script" not in text
            assert "style=" not in text


class TestErrorPages:
    async def test_404_in_french(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/nulle-part")
        assert response.status_code == 404
        assert "Page introuvable" in response.text

    async def test_500_in_french_without_stack_trace(
        self,
        app,
        monkeypatch: pytest.MonkeyPatch,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        from portal.tenants import service

        async def broken(*args: object) -> None:
            raise RuntimeError("secret internal detail")

        monkeypatch.setattr(service, "organisations", broken)
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            await login(client, world.tenant.pilot.email)
            response = await client.get(f"/c/{world.tenant.slug}/")
        assert response.status_code == 500
        assert "Erreur du portail" in response.text
        assert "secret internal detail" not in response.text and "Traceback" not in response.text
        assert response.headers["x-content-type-options"] == "nosniff"


class TestPublicPages:
    async def test_healthz_answers_without_a_session(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/healthz")
        assert response.status_code == 200
        body = response.json()
        assert body["checks"]["database"]["state"] == "ok"
        assert body["checks"]["mail"]["state"] == "ok"

    async def test_accessibility_statement(self, client: httpx.AsyncClient) -> None:
        text = html.unescape((await client.get("/accessibilite")).text)
        assert "Déclaration d'accessibilité" in text and "RGAA" in text

    async def test_skip_link_and_labels_on_login(self, client: httpx.AsyncClient) -> None:
        text = (await client.get("/login")).text
        assert 'href="#contenu"' in text
        assert '<label for="f-email">' in text and '<label for="f-password">' in text
        assert '<html lang="fr">' in text

    async def test_dashboard_lists_my_consortia(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        assert (await client.get("/")).status_code == 303
        await login(client, world.tenant.pilot.email)
        text = (await client.get("/")).text
        assert "Consortium alpha-habitat" in text and "beta-logement" not in text
