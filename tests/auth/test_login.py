from __future__ import annotations

import datetime as dt
import html

import httpx
import pytest

from portal.audit import repository as audit_repository
from portal.auth import service
from portal.core import clock as portal_clock
from tests.conftest import PASSWORD, World, csrf_token, login, post_form


async def attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await post_form(client, "/login", {"email": email, "password": password})


class TestPasswordLogin:
    async def test_right_password_opens_a_session_with_safe_cookie(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await login(client, world.tenant.pilot.email)
        cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("portal_session=")
        )
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
        assert (await client.get(f"/c/{world.tenant.slug}/")).status_code == 200

    async def test_session_token_is_rotated_at_login(self, make_client, world: World) -> None:  # type: ignore[no-untyped-def]
        client = make_client()
        await login(client, world.tenant.pilot.email)
        first = client.cookies["portal_session"]
        await login(client, world.tenant.pilot.email)
        second = client.cookies["portal_session"]
        assert first != second
        # The previous token no longer opens anything.
        stale = make_client()
        stale.cookies.set("portal_session", first)
        assert (await stale.get(f"/c/{world.tenant.slug}/")).status_code == 303

    async def test_cookie_is_secure_behind_https(self, app, world: World) -> None:  # type: ignore[no-untyped-def]
        from portal.settings import get_settings

        settings = get_settings()
        object.__setattr__(settings, "base_url", "https://portail.example.org")
        try:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="https://testserver"
            ) as client:
                response = await login(client, world.tenant.pilot.email)
        finally:
            object.__setattr__(settings, "base_url", "http://testserver")
        cookie = next(
            c
            for c in response.headers.get_list("set-cookie")
            if c.startswith("__Host-portal_session=")
        )
        assert "Secure" in cookie

    async def test_wrong_password_gives_a_french_message_and_is_audited(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await attempt(client, world.tenant.pilot.email, "mauvais mot de passe")
        assert response.status_code == 400
        assert "Adresse e-mail ou mot de passe incorrect." in html.unescape(response.text)
        tags = [e["tag"] for e in await audit_repository.list_by_tag("auth:login:failed")]
        assert tags == ["auth:login:failed"]

    async def test_successful_login_is_audited(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        events = await audit_repository.list_by_tag("auth:login:succeeded")
        assert [e["actor_email"] for e in events] == [world.tenant.pilot.email]

    async def test_the_audit_keeps_the_address_of_every_attempt(
        self,
        app,  # type: ignore[no-untyped-def]
        world: World,
    ) -> None:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50_000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            await attempt(c, world.tenant.pilot.email, "mauvais mot de passe")
            await login(c, world.tenant.pilot.email)
        [failed] = await audit_repository.list_by_tag("auth:login:failed")
        [succeeded] = await audit_repository.list_by_tag("auth:login:succeeded")
        assert (failed["actor_id"], failed["actor_email"]) == (None, world.tenant.pilot.email)
        assert succeeded["actor_id"] == world.tenant.pilot.id
        assert failed["ip"] == succeeded["ip"] == "203.0.113.7"

    async def test_next_only_accepts_local_paths(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        token = await csrf_token(client)
        response = await client.post(
            "/login",
            data={
                "csrf_token": token,
                "email": world.tenant.pilot.email,
                "password": PASSWORD,
                "next": "//evil.example/",
            },
        )
        assert response.headers["location"] == "/"

    async def test_logout_ends_the_session(self, client: httpx.AsyncClient, world: World) -> None:
        await login(client, world.tenant.pilot.email)
        token = await csrf_token(client, "/")
        await client.post("/logout", data={"csrf_token": token})
        assert (await client.get(f"/c/{world.tenant.slug}/")).status_code == 303


class TestBruteForce:
    async def test_five_failures_lock_the_account_even_for_the_right_password(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        email = world.tenant.pilot.email
        for _ in range(4):
            assert (await attempt(client, email, "pas le bon mot")).status_code == 400
        fifth = await attempt(client, email, "pas le bon mot")
        assert "bloquée pendant 15 minutes" in html.unescape(fifth.text)
        refused = await attempt(client, email, PASSWORD)
        assert refused.status_code == 400
        assert "Trop de tentatives" in html.unescape(refused.text)
        assert "portal_session" not in refused.cookies

    async def test_lock_lifts_after_15_minutes(
        self, client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        email = world.tenant.pilot.email
        for _ in range(5):
            await attempt(client, email, "pas le bon mot")
        # Attempts during the lock do not extend it.
        await attempt(client, email, PASSWORD)
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15, seconds=5)
        monkeypatch.setattr(portal_clock, "now", lambda: later)
        assert (await attempt(client, email, PASSWORD)).status_code == 303

    async def test_failures_spread_over_more_than_15_minutes_do_not_lock(
        self, client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        start = dt.datetime.now(dt.UTC)
        email = world.tenant.pilot.email
        for i in range(5):
            moment = start + dt.timedelta(minutes=4 * i)
            monkeypatch.setattr(portal_clock, "now", lambda moment=moment: moment)
            await attempt(client, email, "pas le bon mot")
        assert (await attempt(client, email, PASSWORD)).status_code == 303

    async def test_unknown_accounts_lock_the_same_way(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        for _ in range(5):
            await attempt(client, "personne@inconnu.fr", "pas le bon mot")
        response = await attempt(client, "personne@inconnu.fr", "pas le bon mot")
        assert "Trop de tentatives" in html.unescape(response.text)

    def test_lock_window_rule(self) -> None:
        t0 = dt.datetime(2026, 11, 22, 10, 0, tzinfo=dt.UTC)
        minutes = [0, 1, 2, 3, 14]
        failures = [t0 + dt.timedelta(minutes=m) for m in minutes]
        assert service.lock_ends(failures) == t0 + dt.timedelta(minutes=29)
        assert service.lock_ends(failures[:4]) is None
        assert service.lock_ends([t0 + dt.timedelta(minutes=m) for m in (0, 4, 8, 12, 16)]) is None
