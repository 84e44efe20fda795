"""A state-changing request without a valid CSRF token is refused and changes nothing."""

from __future__ import annotations

import httpx

from tests.conftest import World, csrf_token, login


class TestCsrf:
    async def test_login_without_token_is_refused_in_french(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        response = await client.post(
            "/login", data={"email": world.tenant.pilot.email, "password": "x" * 12}
        )
        assert response.status_code == 403
        assert "Le formulaire a expiré" in response.text
        assert "portal_session" not in response.cookies

    async def test_invitation_with_forged_token_creates_nothing(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        from portal.core.clock import now
        from portal.tenants import repository

        await login(client, world.tenant.pilot.email)
        data = {
            "email": "nouvelle@asso.fr",
            "organisation": str(world.tenant.association_id),
            "role": "association_staff",
        }
        for token in (None, "0" * 64):
            payload = dict(data) if token is None else {**data, "csrf_token": token}
            response = await client.post(f"/c/{world.tenant.slug}/invitations", data=payload)
            assert response.status_code == 403
        assert await repository.pending_invitations(world.tenant.scope, now()) == []

    async def test_token_from_another_browser_is_refused(
        self,
        make_client,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        attacker, victim = make_client(), make_client()
        stolen = await csrf_token(attacker)
        await login(victim, world.tenant.pilot.email)
        response = await victim.post("/logout", data={"csrf_token": stolen})
        assert response.status_code == 403
        assert (await victim.get(f"/c/{world.tenant.slug}/")).status_code == 200

    async def test_valid_token_is_accepted(self, client: httpx.AsyncClient, world: World) -> None:
        await login(client, world.tenant.pilot.email)
        token = await csrf_token(client, "/")
        response = await client.post("/logout", data={"csrf_token": token})
        assert response.status_code == 303
        assert (await client.get(f"/c/{world.tenant.slug}/")).status_code == 303
