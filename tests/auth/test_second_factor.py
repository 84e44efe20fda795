"""Second factor (TOTP): enrolment, the code step of the login, recovery codes, replay, the
throttle, and who must have one (platform administrators, pilots where the consortium says so)."""

from __future__ import annotations

import datetime as dt
import html
import re

import httpx
import pyotp
import pytest

from portal.auth import repository
from tests.conftest import (
    PASSWORD,
    World,
    csrf_token,
    enrol_second_factor,
    login,
    post_form,
)

SECRET_RE = re.compile(r"<code>([A-Z2-7 ]+)</code>")
RECOVERY_RE = re.compile(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>")


async def enrol(client: httpx.AsyncClient, next_url: str = "") -> tuple[str, list[str]]:
    """Through the pages, as a person does: start, scan (read the key), confirm a first code.
    Returns the secret and the recovery codes shown."""
    start = await post_form(
        client, "/compte/securite/totp", {"next": next_url}, from_page="/compte/securite"
    )
    assert start.status_code == 303, start.text
    page = await client.get(start.headers["location"])
    assert page.status_code == 200
    assert "<svg" in page.text  # the QR code, drawn by the server
    match = SECRET_RE.search(page.text)
    assert match, page.text
    secret = match.group(1).replace(" ", "")
    confirmed = await post_form(
        client,
        "/compte/securite/totp/confirmation",
        {"code": pyotp.TOTP(secret).now(), "next": next_url},
        from_page="/compte/securite/totp",
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = RECOVERY_RE.findall(confirmed.text)
    return secret, codes


async def password_step(client: httpx.AsyncClient, email: str) -> httpx.Response:
    response = await post_form(client, "/login", {"email": email, "password": PASSWORD})
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/login/code")
    return response


async def code_step(client: httpx.AsyncClient, code: str) -> httpx.Response:
    return await post_form(client, "/login/code", {"code": code}, from_page="/login/code")


class TestEnrolment:
    async def test_a_first_code_confirms_it_and_ten_recovery_codes_are_shown_once(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        page = await client.get("/compte/securite")
        assert "Activer la double authentification" in html.unescape(page.text)
        secret, codes = await enrol(client)
        assert len(codes) == 10 and len(set(codes)) == 10
        shown = html.unescape((await client.get("/compte/securite")).text)
        assert "Activée le" in shown
        # The secret is never shown again, and is not stored in clear.
        assert (await client.get("/compte/securite/totp")).status_code == 303
        assert secret not in shown
        row = await repository.user_by_email(world.tenant.pilot.email)
        assert row is not None and row["totp_secret"] and secret not in row["totp_secret"]

    async def test_a_wrong_first_code_is_refused_and_nothing_is_enabled(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        await post_form(client, "/compte/securite/totp", {}, from_page="/compte/securite")
        response = await post_form(
            client,
            "/compte/securite/totp/confirmation",
            {"code": "000000"},
            from_page="/compte/securite/totp",
        )
        assert response.status_code == 400
        text = html.unescape(response.text)
        assert 'id="f-code-error"' in text and "Code incorrect" in text
        assert "<svg" in text  # the QR code stays on the page to try again
        row = await repository.user_by_email(world.tenant.pilot.email)
        assert row is not None and row["totp_confirmed_at"] is None
        # Still not required at login.
        await client.post("/logout", data={"csrf_token": await csrf_token(client, "/")})
        response = await post_form(
            client, "/login", {"email": world.tenant.pilot.email, "password": PASSWORD}
        )
        assert not response.headers["location"].startswith("/login/code")


class TestLoginWithCode:
    async def test_the_password_alone_opens_no_page(
        self,
        make_client,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        secret = await enrol_second_factor(world.tenant.pilot)
        client = make_client()
        await password_step(client, world.tenant.pilot.email)
        for path in (f"/c/{world.tenant.slug}/", "/compte/securite", "/notifications"):
            response = await client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/login"), path
        assert (await client.get("/login/code")).status_code == 200
        response = await code_step(client, pyotp.TOTP(secret).now())
        assert response.status_code == 303
        assert (await client.get(f"/c/{world.tenant.slug}/")).status_code == 200

    async def test_a_wrong_code_is_refused_with_a_french_message(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await enrol_second_factor(world.tenant.pilot)
        await password_step(client, world.tenant.pilot.email)
        response = await code_step(client, "123456")
        assert response.status_code == 400
        text = html.unescape(response.text)
        assert 'id="f-code-error"' in text and "Code incorrect" in text
        assert (await client.get(f"/c/{world.tenant.slug}/")).status_code == 303

    async def test_a_code_cannot_be_used_twice(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        secret = await enrol_second_factor(world.tenant.pilot)
        await password_step(client, world.tenant.pilot.email)
        code = pyotp.TOTP(secret).now()
        assert (await code_step(client, code)).status_code == 303
        await client.post("/logout", data={"csrf_token": await csrf_token(client, "/")})
        await password_step(client, world.tenant.pilot.email)
        response = await code_step(client, code)
        assert response.status_code == 400
        assert "déjà été utilisé" in html.unescape(response.text)
        assert (await client.get(f"/c/{world.tenant.slug}/")).status_code == 303

    async def test_a_recovery_code_works_once(
        self,
        make_client,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        enrolling = make_client()
        await login(enrolling, world.tenant.pilot.email)
        _, codes = await enrol(enrolling)
        first = make_client()
        await password_step(first, world.tenant.pilot.email)
        assert (await code_step(first, codes[0].upper())).status_code == 303
        assert (await first.get(f"/c/{world.tenant.slug}/")).status_code == 200
        assert "<strong>9</strong> sur 10" in (await first.get("/compte/securite")).text
        second = make_client()
        await password_step(second, world.tenant.pilot.email)
        response = await code_step(second, codes[0])
        assert response.status_code == 400
        assert "Code incorrect" in html.unescape(response.text)
        assert (await second.get(f"/c/{world.tenant.slug}/")).status_code == 303

    async def test_five_wrong_codes_lock_the_step_even_for_the_right_code(
        self,
        make_client,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        secret = await enrol_second_factor(world.tenant.pilot)
        client = make_client()
        await password_step(client, world.tenant.pilot.email)
        for _ in range(4):
            assert (await code_step(client, "000000")).status_code == 400
        locked = await code_step(client, "000000")
        assert locked.status_code == 303 and locked.headers["location"].startswith("/login")
        assert "bloquée" in html.unescape((await client.get(locked.headers["location"])).text)
        # A new password step does not reopen it.
        again = make_client()
        await password_step(again, world.tenant.pilot.email)
        response = await code_step(again, pyotp.TOTP(secret).now())
        assert response.status_code == 303 and response.headers["location"].startswith("/login?")
        assert (await again.get(f"/c/{world.tenant.slug}/")).status_code == 303

    async def test_wrong_codes_spend_the_addresss_login_budget(
        self,
        make_client,  # type: ignore[no-untyped-def]
        world: World,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Someone holding several passwords cannot try codes on each account in turn from one
        address: the code step shares the address's budget of failed logins."""
        from portal.auth import second_factor_routes

        monkeypatch.setattr(
            second_factor_routes, "LOGIN_FAILURES_PER_ADDRESS", (2, dt.timedelta(minutes=15))
        )
        secret = await enrol_second_factor(world.tenant.pilot)
        client = make_client()
        await password_step(client, world.tenant.pilot.email)
        for _ in range(2):
            assert (await code_step(client, "000000")).status_code == 400
        refused = await code_step(client, pyotp.TOTP(secret).now())
        assert refused.status_code == 429
        assert "réessayez dans" in html.unescape(refused.text)
        assert int(refused.headers["retry-after"]) <= 15 * 60


class TestAdministratorsMustEnrol:
    async def test_an_admin_without_second_factor_is_sent_to_enrolment(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await repository.update_user(
            world.admin.id, totp_secret=None, totp_confirmed_at=None, totp_last_step=0
        )
        await login(client, world.admin.email)
        response = await client.get("/admin")
        assert response.status_code == 303
        assert response.headers["location"] == "/compte/securite?next=/admin"
        page = html.unescape((await client.get(response.headers["location"])).text)
        assert "obligatoire" in page
        response = await client.post(
            "/admin/consortiums",
            data={"csrf_token": await csrf_token(client, "/compte/securite"), "name": "X"},
        )
        assert response.status_code == 303 and "/compte/securite" in response.headers["location"]
        _, codes = await enrol(client, "/admin")
        assert len(codes) == 10
        assert (await client.get("/admin")).status_code == 200


class TestConsortiumRequiresItOfPilots:
    async def test_a_pilot_without_second_factor_enrols_before_entering(
        self,
        make_client,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        space = f"/c/{world.tenant.slug}"
        pilot = make_client()
        await login(pilot, world.tenant.pilot.email)
        response = await post_form(
            pilot,
            f"{space}/reglages",
            {"pilot_second_factor_required": "on"},
            from_page=f"{space}/reglages",
        )
        assert response.status_code == 303
        # The pilot is sent to enrolment, and comes back once enrolled.
        response = await pilot.get(f"{space}/conventions")
        assert response.status_code == 303
        assert response.headers["location"] == f"/compte/securite?next={space}/conventions"
        assert (await pilot.get(f"{space}/")).status_code == 303
        await enrol(pilot, f"{space}/")
        assert (await pilot.get(f"{space}/")).status_code == 200
        # Other roles, and the pilots of other consortia, are not concerned.
        worker = make_client()
        await login(worker, world.tenant.association_worker.email)
        assert (await worker.get(f"{space}/")).status_code == 200
        other = make_client()
        await login(other, world.other_tenant.pilot.email)
        assert (await other.get(f"/c/{world.other_tenant.slug}/")).status_code == 200


class TestAccountChanges:
    async def test_turning_it_off_or_renewing_codes_needs_a_current_code(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        secret, old_codes = await enrol(client)
        await repository.update_user(world.tenant.pilot.id, totp_last_step=0)
        refused = await post_form(
            client,
            "/compte/securite/totp/desactivation",
            {"disable_code": "000000"},
            "/compte/securite",
        )
        assert refused.status_code == 400
        assert 'id="f-disable_code-error"' in refused.text
        assert "Code incorrect" in html.unescape(refused.text)
        renewed = await post_form(
            client,
            "/compte/securite/codes",
            {"renew_code": pyotp.TOTP(secret).now()},
            "/compte/securite",
        )
        assert renewed.status_code == 200
        new_codes = RECOVERY_RE.findall(renewed.text)
        assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
        await repository.update_user(world.tenant.pilot.id, totp_last_step=0)
        done = await post_form(
            client,
            "/compte/securite/totp/desactivation",
            {"disable_code": pyotp.TOTP(secret).now()},
            "/compte/securite",
        )
        assert done.status_code == 303
        await client.post("/logout", data={"csrf_token": await csrf_token(client, "/")})
        response = await post_form(
            client, "/login", {"email": world.tenant.pilot.email, "password": PASSWORD}
        )
        assert response.headers["location"] == "/"
