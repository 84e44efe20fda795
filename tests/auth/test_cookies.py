"""Session and CSRF cookies: `__Host-` names behind HTTPS, and a CSRF token bound to its session."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import World, csrf_token, login
from tests.services import setting


@pytest.fixture
async def https_client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    with setting("base_url", "https://portail.example.org"):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="https://testserver"
        ) as client:
            yield client


def _set_cookies(response: httpx.Response) -> dict[str, str]:
    return {header.split("=", 1)[0]: header for header in response.headers.get_list("set-cookie")}


class TestHostPrefixBehindHttps:
    async def test_session_and_csrf_cookies_carry_the_host_prefix(
        self, https_client: httpx.AsyncClient, world: World
    ) -> None:
        first = await https_client.get("/login")
        response = await login(https_client, world.tenant.pilot.email)
        cookies = {**_set_cookies(first), **_set_cookies(response)}
        for name in ("__Host-portal_session", "__Host-portal_csrf"):
            assert name in cookies, cookies
            flags = [part.strip().lower() for part in cookies[name].split(";")]
            assert "secure" in flags
            assert "path=/" in flags
            assert not any(flag.startswith("domain=") for flag in flags)
        assert "portal_session" not in cookies and "portal_csrf" not in cookies
        assert (await https_client.get(f"/c/{world.tenant.slug}/")).status_code == 200

    async def test_logout_clears_the_prefixed_session(
        self, https_client: httpx.AsyncClient, world: World
    ) -> None:
        await login(https_client, world.tenant.pilot.email)
        token = await csrf_token(https_client, "/")
        response = await https_client.post("/logout", data={"csrf_token": token})
        assert response.status_code == 303
        cleared = _set_cookies(response)["__Host-portal_session"].lower()
        assert "secure" in cleared and "path=/" in cleared
        assert (await https_client.get(f"/c/{world.tenant.slug}/")).status_code == 303

    async def test_plain_names_stay_on_http(self, client: httpx.AsyncClient, world: World) -> None:
        response = await login(client, world.tenant.pilot.email)
        assert "portal_session" in _set_cookies(response)
        assert "portal_csrf" in client.cookies


class TestCsrfBoundToSession:
    async def test_token_of_another_session_is_refused_even_with_its_cookie(
        self,
        make_client,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        """A CSRF cookie planted in the victim's browser (e.g. from a sibling subdomain) with
        the token that goes with it in the attacker's own session does not pass."""
        attacker, victim = make_client(), make_client()
        await login(attacker, world.other_tenant.pilot.email)
        stolen = await csrf_token(attacker, "/")
        await login(victim, world.tenant.pilot.email)
        victim.cookies.set("portal_csrf", attacker.cookies["portal_csrf"])
        response = await victim.post("/logout", data={"csrf_token": stolen})
        assert response.status_code == 403
        assert "Le formulaire a expiré" in response.text
        assert (await victim.get(f"/c/{world.tenant.slug}/")).status_code == 200
