from __future__ import annotations

import html
import re

import httpx

from portal.tenants import repository
from tests.conftest import World, csrf_token, delivered_mails, login


class TestPlatformAdmin:
    async def test_admin_creates_a_consortium_and_invites_its_first_pilot(
        self,
        make_client,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        admin = make_client()
        await login(admin, world.admin.email)
        token = await csrf_token(admin, "/admin")
        response = await admin.post(
            "/admin/consortiums",
            data={
                "csrf_token": token,
                "name": "Toit Partagé Grand Ouest",
                "slug": "toit-grand-ouest",
                "programme": "avdl",
                "departements": "35, 44, 56",
                "status": "active",
            },
        )
        assert response.status_code == 303
        detail = response.headers["location"]
        response = await admin.post(
            f"{detail}/organisations",
            data={
                "csrf_token": token,
                "name": "Armor Habitat",
                "siret": "44306184100047",
                "kinds": ["lessor"],
            },
        )
        assert response.status_code == 303
        consortium = await repository.consortium_by_slug("toit-grand-ouest")
        assert consortium is not None and consortium["departements"] == ["35", "44", "56"]
        page = await admin.get(detail)
        org_id = re.search(r'<option value="([0-9a-f-]{36})"', page.text).group(1)  # type: ignore[union-attr]
        response = await admin.post(
            f"{detail}/invitations",
            data={
                "csrf_token": token,
                "email": "pilote@armor.fr",
                "organisation": org_id,
                "role": "pilot",
                "may_sign": "on",
            },
        )
        assert response.status_code == 303
        assert len(await delivered_mails()) == 1
        assert "Toit Partagé Grand Ouest" in html.unescape((await admin.get(detail)).text)

    async def test_bad_consortium_form_shows_errors_next_to_fields(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.admin.email)
        token = await csrf_token(client, "/admin")
        response = await client.post(
            "/admin/consortiums",
            data={
                "csrf_token": token,
                "name": "X",
                "slug": "Pas Valide!",
                "programme": "?",
                "departements": "99",
                "status": "active",
            },
        )
        assert response.status_code == 400
        text = html.unescape(response.text)
        for field in ("name", "slug", "programme", "departements"):
            assert f'id="f-{field}-error"' in text
        assert "Département(s) inconnu(s) : 99." in text

    async def test_slug_already_taken(self, client: httpx.AsyncClient, world: World) -> None:
        await login(client, world.admin.email)
        token = await csrf_token(client, "/admin")
        response = await client.post(
            "/admin/consortiums",
            data={
                "csrf_token": token,
                "name": "Doublon",
                "slug": world.tenant.slug,
                "programme": "avdl",
                "departements": "69",
                "status": "active",
            },
        )
        assert response.status_code == 400
        assert "déjà pris" in html.unescape(response.text)

    async def test_non_admins_get_404_and_anonymous_the_login(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        assert (await client.get("/admin")).status_code == 303
        await login(client, world.tenant.pilot.email)
        assert (await client.get("/admin")).status_code == 404
        assert (await client.get(f"/admin/consortiums/{world.tenant.id}")).status_code == 404
