"""Common and guessable passwords are refused wherever a password is chosen (issue 14, point 20)."""

from __future__ import annotations

import html

import httpx
import pytest

from portal.auth import service
from tests.auth.test_password_reset import reset_link
from tests.conftest import PASSWORD, World, post_form
from tests.tenants.test_invitations import invitation_link, invite

WEAK = [
    "azerty123456",  # keyboard row and digits
    "motdepasse2026",  # the French "password", with a year
    "Password1234",
    "Marseille2026!",
]


class TestWeakPasswords:
    @pytest.mark.parametrize("weak", WEAK)
    async def test_reset_refuses_a_common_password_next_to_the_field(
        self, client: httpx.AsyncClient, world: World, weak: str
    ) -> None:
        await post_form(client, "/mot-de-passe/oublie", {"email": world.tenant.pilot.email})
        link = await reset_link()
        response = await post_form(
            client, link, {"password": weak, "password_confirm": weak}, from_page=link
        )
        assert response.status_code == 400
        page = html.unescape(response.text)
        assert "trop courant ou trop facile à deviner" in page
        assert 'id="f-password-error"' in response.text
        # Nothing changed and the link still works for a better choice.
        good = "trois pommes vertes sur la lune"
        done = await post_form(
            client, link, {"password": good, "password_confirm": good}, from_page=link
        )
        assert done.status_code == 303

    async def test_reset_refuses_the_persons_own_email(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await post_form(client, "/mot-de-passe/oublie", {"email": world.tenant.pilot.email})
        link = await reset_link()
        weak = world.tenant.pilot.email  # pilote@alpha.example.org: long but guessable
        response = await post_form(
            client, link, {"password": weak, "password_confirm": weak}, from_page=link
        )
        assert response.status_code == 400
        assert "trop courant" in html.unescape(response.text)

    async def test_invitation_refuses_a_common_password_and_creates_no_account(
        self, make_client, world: World
    ) -> None:  # type: ignore[no-untyped-def]
        from tests.conftest import login

        pilot = make_client()
        await login(pilot, world.tenant.pilot.email)
        await invite(pilot, world, "nouvelle@asso.fr")
        link = await invitation_link()
        newcomer = make_client()
        response = await post_form(
            newcomer,
            link,
            {
                "full_name": "Nadia Nouvelle",
                "password": "azerty123456",
                "password_confirm": "azerty123456",
            },
            from_page=link,
        )
        assert response.status_code == 400
        assert "trop courant ou trop facile à deviner" in html.unescape(response.text)
        assert 'id="f-password-error"' in response.text
        assert await service.user_by_email("nouvelle@asso.fr") is None

    def test_the_suites_passphrase_is_accepted(self) -> None:
        from portal.core.security import password_problem

        assert password_problem(PASSWORD, ["pilote@alpha.example.org", "Pilote"]) is None
        assert password_problem("une nouvelle phrase secrète") is None


class TestHashingCost:
    def test_production_hashes_with_rfc_9106_costs_and_verifies_any_profiles_hash(self) -> None:
        from portal.core.security import hash_password, verify_password
        from tests.services import setting

        with setting("password_hashing", "standard"):
            stored = hash_password(PASSWORD)
            assert stored.startswith("$argon2id$") and "m=65536,t=3,p=4" in stored
        # The suite's cheap hashes carry their own cost: the standard profile checks them too.
        with setting("password_hashing", "fast"):
            cheap = hash_password(PASSWORD)
        with setting("password_hashing", "standard"):
            assert verify_password(cheap, PASSWORD) and verify_password(stored, PASSWORD)
            assert not verify_password(stored, "not the password")
