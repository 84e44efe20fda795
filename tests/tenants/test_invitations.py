from __future__ import annotations

import datetime as dt
import email
import html
import re
from email import policy

import httpx
import pytest

from portal.core import clock as portal_clock
from portal.tenants import repository
from tests.conftest import World, csrf_token, delivered_mails, login, post_form


async def invite(
    client: httpx.AsyncClient, world: World, address: str, role: str = "association_staff"
) -> httpx.Response:
    base = f"/c/{world.tenant.slug}"
    token = await csrf_token(client, f"{base}/membres")
    return await client.post(
        f"{base}/invitations",
        data={
            "csrf_token": token,
            "email": address,
            "organisation": str(world.tenant.association_id),
            "role": role,
            "may_sign": "on",
        },
    )


async def invitation_link() -> str:
    [path] = await delivered_mails()
    message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    match = re.search(r"http://testserver(/invitations/[\w-]+)", body)
    assert match, body
    return match.group(1)


class TestInvite:
    async def test_pilot_invites_and_newcomer_creates_account(
        self,
        make_client,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        pilot = make_client()
        await login(pilot, world.tenant.pilot.email)
        response = await invite(pilot, world, "Nouvelle.Referente@Asso.fr")
        assert response.status_code == 303
        link = await invitation_link()

        newcomer = make_client()
        page = await newcomer.get(link)
        assert "Association alpha-habitat" in page.text
        pw = "ma phrase de passe solide"
        response = await post_form(
            newcomer,
            link,
            {"full_name": "Nadia Referente", "password": pw, "password_confirm": pw},
            from_page=link,
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"/c/{world.tenant.slug}/"
        home = await newcomer.get(f"/c/{world.tenant.slug}/")
        assert home.status_code == 200
        assert "Nadia Referente" in home.text
        members = await repository.members(world.tenant.scope)
        joined = next(m for m in members if m["email"] == "nouvelle.referente@asso.fr")
        assert joined["role"] == "association_staff" and joined["may_sign"] is True

    async def test_link_works_only_once(self, make_client, world: World) -> None:  # type: ignore[no-untyped-def]
        pilot = make_client()
        await login(pilot, world.tenant.pilot.email)
        await invite(pilot, world, "unique@asso.fr")
        link = await invitation_link()
        first = make_client()
        pw = "ma phrase de passe solide"
        await post_form(
            first,
            link,
            {"full_name": "Une Personne", "password": pw, "password_confirm": pw},
            from_page=link,
        )
        second = make_client()
        page = await second.get(link)
        assert "déjà été acceptée" in html.unescape(page.text)

    async def test_expired_invitation_is_refused(
        self,
        make_client,
        world: World,
        monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
    ) -> None:
        pilot = make_client()
        await login(pilot, world.tenant.pilot.email)
        await invite(pilot, world, "tardive@asso.fr")
        link = await invitation_link()
        eight_days = dt.datetime.now(dt.UTC) + dt.timedelta(days=7, minutes=1)
        monkeypatch.setattr(portal_clock, "now", lambda: eight_days)
        newcomer = make_client()
        page = await newcomer.get(link)
        assert "a expiré" in html.unescape(page.text)
        pw = "ma phrase de passe solide"
        response = await post_form(
            newcomer, link, {"full_name": "Trop Tard", "password": pw, "password_confirm": pw}
        )
        assert response.status_code == 400
        assert not any(
            m["email"] == "tardive@asso.fr" for m in await repository.members(world.tenant.scope)
        )

    async def test_still_valid_just_before_seven_days(
        self,
        make_client,
        world: World,
        monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
    ) -> None:
        pilot = make_client()
        await login(pilot, world.tenant.pilot.email)
        await invite(pilot, world, "juste@asso.fr")
        link = await invitation_link()
        almost = dt.datetime.now(dt.UTC) + dt.timedelta(days=6, hours=23)
        monkeypatch.setattr(portal_clock, "now", lambda: almost)
        page = await make_client().get(link)
        assert "Créer votre compte" in page.text

    async def test_existing_account_accepts_after_login(self, make_client, world: World) -> None:  # type: ignore[no-untyped-def]
        assert world.tenant.state_agent is not None
        pilot = make_client()
        await login(pilot, world.other_tenant.pilot.email)
        base = f"/c/{world.other_tenant.slug}"
        token = await csrf_token(pilot, f"{base}/membres")
        await pilot.post(
            f"{base}/invitations",
            data={
                "csrf_token": token,
                "email": world.tenant.state_agent.email,
                "organisation": str(world.other_tenant.lessor_id),
                "role": "state_agent",
            },
        )
        link = await invitation_link()
        agent = make_client()
        await login(agent, world.tenant.state_agent.email)
        response = await post_form(agent, link, {}, from_page=link)
        assert response.status_code == 303
        # One person, two consortia.
        assert (await agent.get(f"{base}/")).status_code == 200
        assert (await agent.get(f"/c/{world.tenant.slug}/")).status_code == 200

    async def test_invitation_for_someone_else_is_refused(self, make_client, world: World) -> None:  # type: ignore[no-untyped-def]
        pilot = make_client()
        await login(pilot, world.tenant.pilot.email)
        await invite(pilot, world, "destinataire@asso.fr")
        link = await invitation_link()
        intruder = make_client()
        await login(intruder, world.other_tenant.pilot.email)
        response = await post_form(intruder, link, {}, from_page=link)
        assert response.status_code == 400
        assert "adressée à destinataire@asso.fr" in html.unescape(response.text)
        assert (await intruder.get(f"/c/{world.tenant.slug}/")).status_code == 404

    async def test_bad_input_is_explained_next_to_the_field(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        response = await invite(client, world, "pas-une-adresse")
        assert response.status_code == 400
        assert 'id="f-email-error"' in response.text
        assert await delivered_mails() == []

    async def test_organisation_of_another_consortium_is_refused(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        base = f"/c/{world.tenant.slug}"
        token = await csrf_token(client, f"{base}/membres")
        response = await client.post(
            f"{base}/invitations",
            data={
                "csrf_token": token,
                "email": "x@asso.fr",
                "organisation": str(world.other_tenant.association_id),
                "role": "read_only",
            },
        )
        assert response.status_code == 400
        assert "organisation du consortium" in html.unescape(response.text)

    async def test_unknown_token_is_404(self, client: httpx.AsyncClient, world: World) -> None:
        assert (await client.get("/invitations/nimporte-quoi")).status_code == 404


class TestInviterIsTold:
    async def test_inviter_gets_a_notification_when_accepted(
        self, make_client, world: World
    ) -> None:  # type: ignore[no-untyped-def]
        from portal.notifications import service as notifications

        pilot = make_client()
        await login(pilot, world.tenant.pilot.email)
        await invite(pilot, world, "arrivee@asso.fr")
        link = await invitation_link()
        pw = "ma phrase de passe solide"
        await post_form(
            make_client(),
            link,
            {"full_name": "Léa Arrivée", "password": pw, "password_confirm": pw},
            from_page=link,
        )
        [notification] = await notifications.of_user(world.tenant.pilot.id)
        assert notification["title"] == "Léa Arrivée a rejoint l'espace Consortium alpha-habitat"
        assert notification["link"] == f"/c/{world.tenant.slug}/membres"
