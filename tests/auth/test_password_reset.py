from __future__ import annotations

import email
import html
import re
from email import policy

import httpx

from tests.conftest import World, delivered_mails, login, post_form, sent_mails


async def reset_link() -> str:
    [path] = await delivered_mails()
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    match = re.search(r"http://testserver(/mot-de-passe/[\w-]+)", body)
    assert match, body
    return match.group(1)


class TestPasswordReset:
    async def test_reset_by_emailed_single_use_link(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await post_form(
            client, "/mot-de-passe/oublie", {"email": world.tenant.pilot.email}
        )
        assert response.status_code == 303
        link = await reset_link()
        new_password = "une nouvelle phrase secrète"
        response = await post_form(
            client,
            link,
            {"password": new_password, "password_confirm": new_password},
            from_page=link,
        )
        assert response.status_code == 303
        await login(client, world.tenant.pilot.email, new_password)
        # Used once: the same link is now refused.
        again = await client.get(link)
        assert again.status_code == 400
        assert "plus valable" in html.unescape(again.text)

    async def test_unknown_address_gets_the_same_answer_and_no_mail(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await post_form(
            client, "/mot-de-passe/oublie", {"email": "inconnu@nulle-part.fr"}
        )
        assert response.status_code == 303
        assert await delivered_mails() == []

    async def test_short_password_is_refused_next_to_the_field(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await post_form(client, "/mot-de-passe/oublie", {"email": world.tenant.pilot.email})
        link = await reset_link()
        response = await post_form(
            client, link, {"password": "court", "password_confirm": "court"}, from_page=link
        )
        assert response.status_code == 400
        assert "au moins 12 caractères" in html.unescape(response.text)
        assert 'id="f-password-error"' in response.text

    async def test_reset_closes_other_sessions(self, make_client, world: World) -> None:  # type: ignore[no-untyped-def]
        other_browser = make_client()
        await login(other_browser, world.tenant.pilot.email)
        client = make_client()
        await post_form(client, "/mot-de-passe/oublie", {"email": world.tenant.pilot.email})
        link = await reset_link()
        pw = "encore une autre phrase"
        await post_form(client, link, {"password": pw, "password_confirm": pw}, from_page=link)
        assert (await other_browser.get(f"/c/{world.tenant.slug}/")).status_code == 303

    async def test_invalid_email_is_explained(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await post_form(client, "/mot-de-passe/oublie", {"email": "pas-une-adresse"})
        assert response.status_code == 400
        assert "adresse e-mail valide" in html.unescape(response.text)


async def expect_dead(client: httpx.AsyncClient, link: str) -> None:
    page = await client.get(link)
    assert page.status_code == 400
    assert "Ce lien n'est plus valable" in html.unescape(page.text)
    pw = "une phrase toute neuve ici"
    posted = await post_form(
        client, link, {"password": pw, "password_confirm": pw}, from_page="/login"
    )
    assert posted.status_code == 400
    assert "Ce lien n'est plus valable" in html.unescape(posted.text)


class TestOlderLinksAreRevoked:
    async def test_a_new_request_revokes_the_previous_link(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        email_address = world.tenant.pilot.email
        await post_form(client, "/mot-de-passe/oublie", {"email": email_address})
        first = await reset_link()
        for path in sent_mails():
            path.unlink()
        await post_form(client, "/mot-de-passe/oublie", {"email": email_address})
        second = await reset_link()
        assert first != second
        await expect_dead(client, first)
        # The latest one still works.
        assert (await client.get(second)).status_code == 200

    async def test_resetting_revokes_every_other_link(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        import datetime as dt
        import uuid

        from portal.auth import repository, service
        from portal.core import security

        # A second link alive beside the e-mailed one (issued before this rule, or in a race).
        await post_form(client, "/mot-de-passe/oublie", {"email": world.tenant.pilot.email})
        link = await reset_link()
        other_id = uuid.uuid4()
        other = service._reset_token(other_id)
        await repository.insert_reset_token(
            other_id,
            world.tenant.pilot.id,
            security.token_hash(other),
            dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
        )
        assert (await client.get(f"/mot-de-passe/{other}")).status_code == 200
        pw = "phrase choisie au hasard"
        done = await post_form(
            client, link, {"password": pw, "password_confirm": pw}, from_page=link
        )
        assert done.status_code == 303
        await expect_dead(client, f"/mot-de-passe/{other}")
