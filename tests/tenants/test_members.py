from __future__ import annotations

import html

import httpx

from portal.audit import repository as audit_repository
from portal.tenants import repository
from tests.conftest import World, csrf_token, login


async def post(client: httpx.AsyncClient, path: str, data: dict[str, str]) -> httpx.Response:
    token = await csrf_token(client, "/")
    return await client.post(path, data={**data, "csrf_token": token})


class TestMembers:
    async def test_pilot_changes_a_role_and_the_audit_names_who_from_which_address(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        worker = world.tenant.association_worker
        response = await post(
            client, f"/c/{world.tenant.slug}/membres/{worker.membership_id}", {"role": "read_only"}
        )
        assert response.status_code == 303
        row = await repository.member(world.tenant.scope, worker.membership_id)  # type: ignore[arg-type]
        assert row is not None and row["role"] == "read_only"
        [event] = await audit_repository.list_by_tag("tenants:member:role_changed")
        pilot = world.tenant.pilot
        assert (event["actor_id"], event["actor_email"]) == (pilot.id, pilot.email)
        assert (event["consortium_id"], event["ip"]) == (world.tenant.id, "127.0.0.1")

    async def test_last_pilot_cannot_step_down(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        pilot = world.tenant.pilot
        response = await post(
            client, f"/c/{world.tenant.slug}/membres/{pilot.membership_id}", {"role": "finance"}
        )
        assert response.status_code == 400
        assert "dernier pilote" in html.unescape(response.text)
        response = await post(
            client, f"/c/{world.tenant.slug}/membres/{pilot.membership_id}/activation", {}
        )
        assert response.status_code == 303
        row = await repository.member(world.tenant.scope, pilot.membership_id)  # type: ignore[arg-type]
        assert row is not None and row["is_active"] and row["role"] == "pilot"

    async def test_with_a_second_pilot_the_first_may_step_down(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        base = f"/c/{world.tenant.slug}/membres"
        await post(
            client, f"{base}/{world.tenant.association_worker.membership_id}", {"role": "pilot"}
        )
        response = await post(
            client, f"{base}/{world.tenant.pilot.membership_id}", {"role": "lessor_staff"}
        )
        assert response.status_code == 303

    async def test_deactivate_and_reactivate(self, client: httpx.AsyncClient, world: World) -> None:
        await login(client, world.tenant.pilot.email)
        target = world.tenant.association_worker
        path = f"/c/{world.tenant.slug}/membres/{target.membership_id}/activation"
        await post(client, path, {})
        scope = world.tenant.scope
        assert (await repository.member(scope, target.membership_id))["is_active"] is False  # type: ignore[arg-type,index]
        await post(client, path, {})
        assert (await repository.member(scope, target.membership_id))["is_active"] is True  # type: ignore[arg-type,index]

    async def test_member_of_other_consortium_cannot_be_edited_from_here(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        foreign = world.other_tenant.association_worker.membership_id
        response = await post(
            client, f"/c/{world.tenant.slug}/membres/{foreign}", {"role": "read_only"}
        )
        assert response.status_code == 404
        row = await repository.member(world.other_tenant.scope, foreign)  # type: ignore[arg-type]
        assert row is not None and row["role"] == "association_staff"

    async def test_invalid_role_is_explained(self, client: httpx.AsyncClient, world: World) -> None:
        await login(client, world.tenant.pilot.email)
        response = await post(
            client,
            f"/c/{world.tenant.slug}/membres/{world.tenant.association_worker.membership_id}",
            {"role": "roi"},
        )
        assert response.status_code == 400
        assert "Choisissez un rôle" in html.unescape(response.text)


class TestOrganisations:
    async def test_pilot_adds_an_organisation_with_a_valid_siret(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        token = await csrf_token(client, f"/c/{world.tenant.slug}/organisations")
        response = await client.post(
            f"/c/{world.tenant.slug}/organisations",
            data={
                "csrf_token": token,
                "name": "SIAO du Rhône",
                "siret": "732 829 320 00074",
                "kinds": ["association", "siao"],
                "city": "Lyon",
            },
        )
        # Same SIRET as the consortium's lessor: already a member organisation.
        assert response.status_code == 400
        assert "fait déjà partie du consortium" in html.unescape(response.text)
        response = await client.post(
            f"/c/{world.tenant.slug}/organisations",
            data={
                "csrf_token": token,
                "name": "SIAO du Rhône",
                "siret": "552 081 317 66522",
                "kinds": ["association", "siao"],
                "city": "Lyon",
            },
        )
        assert response.status_code == 303
        names = [o["name"] for o in await repository.organisations(world.tenant.scope)]
        # Known by SIRET (it takes part in the other consortium): reused, not duplicated.
        assert "Bailleur beta-logement" in names

    async def test_bad_siret_is_refused_next_to_the_field(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        token = await csrf_token(client, f"/c/{world.tenant.slug}/organisations")
        response = await client.post(
            f"/c/{world.tenant.slug}/organisations",
            data={
                "csrf_token": token,
                "name": "Asso",
                "siret": "12345678901234",
                "kinds": ["association"],
            },
        )
        assert response.status_code == 400
        assert 'id="f-siret-error"' in response.text
        assert "clé de contrôle" in html.unescape(response.text)
