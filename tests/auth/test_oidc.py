"""OpenID Connect login against a real provider (the npm package `oidc-provider`)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest

from portal.auth import oidc
from portal.auth.repository import identity_user, user_by_email
from portal.core import clock as portal_clock
from portal.core.clock import now
from portal.tenants import repository as tenants_repository
from tests.auth.oidc_harness import complete_provider_login, start_oidc_provider
from tests.conftest import OIDC_SOCKET, World, enrol_second_factor, login, post_form

CALLBACK = "http://testserver/login/oidc/test/callback"


@pytest.fixture(scope="session")
def provider() -> Iterator[object]:
    with start_oidc_provider([CALLBACK], OIDC_SOCKET) as running:
        yield running


async def begin(client: httpx.AsyncClient, next_url: str = "/") -> str:
    response = await client.get("/login/oidc/test", params={"next": next_url})
    assert response.status_code == 303, response.text
    assert oidc.COOKIE in client.cookies
    return response.headers["location"]


async def sign_in(
    client: httpx.AsyncClient, provider_login: str, next_url: str = "/"
) -> httpx.Response:
    authorize = await begin(client, next_url)
    query = parse_qs(urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"] and query["nonce"] and query["state"]
    callback = await complete_provider_login(authorize, provider_login)
    return await client.get(callback.removeprefix("http://testserver"))


class TestOidcLinking:
    async def test_verified_email_of_an_existing_account_logs_in_and_links(
        self, provider: object, client: httpx.AsyncClient, world: World
    ) -> None:
        assert world.tenant.state_agent is not None
        email = world.tenant.state_agent.email
        response = await sign_in(client, email, next_url=f"/c/{world.tenant.slug}/")
        assert response.status_code == 303
        assert response.headers["location"] == f"/c/{world.tenant.slug}/"
        assert (await client.get(f"/c/{world.tenant.slug}/")).status_code == 200
        assert await identity_user("test", f"sub-{email}") is not None

    async def test_unverified_email_gets_no_access(
        self, provider: object, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await sign_in(client, f"unverified:{world.tenant.pilot.email}")
        assert response.status_code == 403
        assert "pas encore accès" in html.unescape(response.text)
        assert "portal_session" not in client.cookies
        assert (await client.get(f"/c/{world.tenant.slug}/")).status_code == 303

    async def test_unknown_person_gets_no_access_and_no_account(
        self, provider: object, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await sign_in(client, "inconnu@ailleurs.fr")
        assert response.status_code == 403
        assert "invitation" in html.unescape(response.text)
        assert await user_by_email("inconnu@ailleurs.fr") is None

    async def test_verified_email_matching_an_invitation_creates_the_account(
        self,
        provider: object,
        make_client,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        pilot = make_client()
        await login(pilot, world.tenant.pilot.email)
        from tests.tenants.test_invitations import invite

        await invite(pilot, world, "invitee@asso.fr")
        newcomer = make_client()
        response = await sign_in(newcomer, "invitee@asso.fr", next_url=f"/c/{world.tenant.slug}/")
        assert response.status_code == 303
        assert (await newcomer.get(f"/c/{world.tenant.slug}/")).status_code == 200
        assert await tenants_repository.pending_invitations(world.tenant.scope, now()) == []

    async def test_expired_invitation_does_not_open_an_account(
        self,
        provider: object,
        make_client,
        world: World,
        monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
    ) -> None:
        import datetime as dt

        pilot = make_client()
        await login(pilot, world.tenant.pilot.email)
        from tests.tenants.test_invitations import invite

        await invite(pilot, world, "tardif@asso.fr")
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=8)
        monkeypatch.setattr(portal_clock, "now", lambda: later)
        response = await sign_in(make_client(), "tardif@asso.fr")
        assert response.status_code == 403
        assert await user_by_email("tardif@asso.fr") is None


class TestOidcProtocolChecks:
    async def test_wrong_state_is_refused(
        self, provider: object, client: httpx.AsyncClient, world: World
    ) -> None:
        authorize = await begin(client)
        callback = await complete_provider_login(authorize, world.tenant.pilot.email)
        forged = callback.replace("state=", "state=x")
        response = await client.get(forged.removeprefix("http://testserver"))
        assert response.status_code == 400
        assert "state invalide" in html.unescape(response.text)
        assert "portal_session" not in client.cookies

    async def test_wrong_nonce_is_refused(
        self, provider: object, client: httpx.AsyncClient, world: World
    ) -> None:
        authorize = await begin(client)
        flow = oidc._serializer().loads(client.cookies[oidc.COOKIE])
        callback = await complete_provider_login(authorize, world.tenant.pilot.email)
        client.cookies.set(oidc.COOKIE, oidc._serializer().dumps({**flow, "n": "autre-nonce"}))
        response = await client.get(callback.removeprefix("http://testserver"))
        assert response.status_code == 400
        assert "Jeton d'identité invalide" in html.unescape(response.text)

    async def test_wrong_pkce_verifier_is_refused_by_the_provider(
        self, provider: object, client: httpx.AsyncClient, world: World
    ) -> None:
        authorize = await begin(client)
        flow = oidc._serializer().loads(client.cookies[oidc.COOKIE])
        callback = await complete_provider_login(authorize, world.tenant.pilot.email)
        client.cookies.set(oidc.COOKIE, oidc._serializer().dumps({**flow, "v": "x" * 64}))
        response = await client.get(callback.removeprefix("http://testserver"))
        assert response.status_code == 400
        assert "Échange du code refusé" in html.unescape(response.text)

    async def test_unknown_provider_is_404(self, client: httpx.AsyncClient) -> None:
        assert (await client.get("/login/oidc/inconnu")).status_code == 404

    async def test_login_page_offers_the_provider(self, client: httpx.AsyncClient) -> None:
        assert "Se connecter avec Fournisseur de test" in (await client.get("/login")).text


class TestOidcAndSecondFactor:
    async def test_an_enrolled_person_still_types_a_code_after_the_provider(
        self, provider: object, client: httpx.AsyncClient, world: World
    ) -> None:
        """We cannot tell whether a provider asked for a second factor: ours is asked too."""
        secret = await enrol_second_factor(world.tenant.pilot)
        space = f"/c/{world.tenant.slug}/"
        response = await sign_in(client, world.tenant.pilot.email, next_url=space)
        assert response.status_code == 303
        step = response.headers["location"]
        assert step.startswith("/login/code")
        assert (await client.get(space)).status_code == 303
        done = await post_form(client, step, {"code": pyotp.TOTP(secret).now()}, from_page=step)
        assert done.status_code == 303 and done.headers["location"] == space
        assert (await client.get(space)).status_code == 200
