"""Every page of a consortium space is closed to anonymous visitors and to other consortia."""

from __future__ import annotations

import html
import re
import uuid
from urllib.parse import quote

import httpx
import pytest
from starlette.routing import Mount, Route

from tests.conftest import World, csrf_token, login


def tenant_routes(app) -> list[Route]:  # type: ignore[no-untyped-def]
    starlette_app = app.app  # inside SecurityHeadersMiddleware
    mount = next(r for r in starlette_app.routes if isinstance(r, Mount) and r.path == "/c/{slug}")
    return [r for r in mount.routes if isinstance(r, Route)]


def concrete_paths(app, slug: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, path) for every tenant route, with ids filled by random UUIDs."""
    pairs = []
    for route in tenant_routes(app):
        path = "/c/" + slug + re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), route.path)
        for method in sorted(route.methods or []):
            if method != "HEAD":
                pairs.append((method, path))
    return pairs


class TestRouteDeclarations:
    def test_every_tenant_route_declares_a_permission(self, app) -> None:  # type: ignore[no-untyped-def]
        missing = [r.path for r in tenant_routes(app) if not hasattr(r.endpoint, "permission")]
        assert missing == []

    def test_there_are_tenant_routes_to_check(self, app) -> None:  # type: ignore[no-untyped-def]
        assert len(concrete_paths(app, "x")) >= 10


class TestIsolation:
    async def test_anonymous_never_gets_a_page_and_no_hint_of_existence(
        self,
        app,
        client: httpx.AsyncClient,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        token = await csrf_token(client)
        for slug in (world.tenant.slug, "consortium-inexistant"):
            for method, path in concrete_paths(app, slug):
                response = await client.request(method, path, data={"csrf_token": token})
                assert response.status_code == 303, (method, path, response.status_code)
                assert response.headers["location"] == "/login?next=" + quote(path)

    async def test_member_of_another_consortium_gets_404_everywhere(
        self,
        app,
        client: httpx.AsyncClient,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        await login(client, world.other_tenant.pilot.email)
        token = await csrf_token(client, "/")
        bodies = set()
        for slug in (world.tenant.slug, "consortium-inexistant"):
            for method, path in concrete_paths(app, slug):
                response = await client.request(
                    method, path, data={"csrf_token": token, "email": "x@y.fr", "role": "pilot"}
                )
                assert response.status_code == 404, (method, path, response.status_code)
                assert world.tenant.slug not in response.text
                bodies.add(response.text)
        # The page for an existing consortium is the same as for one that does not exist.
        assert len(bodies) == 1

    async def test_platform_admin_is_not_a_member(
        self,
        app,
        client: httpx.AsyncClient,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        await login(client, world.admin.email)
        for method, path in concrete_paths(app, world.tenant.slug):
            if method == "GET":
                assert (await client.get(path)).status_code == 404, path

    async def test_deactivated_member_loses_access(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        from portal.tenants import repository

        await login(client, world.tenant.association_worker.email)
        assert (await client.get(f"/c/{world.tenant.slug}/")).status_code == 200
        membership = world.tenant.association_worker.membership_id
        assert membership is not None
        await repository.update_membership(
            world.tenant.scope,
            membership,
            is_active=False,
        )
        assert (await client.get(f"/c/{world.tenant.slug}/")).status_code == 404

    @pytest.mark.parametrize("page", ["/", "/membres", "/organisations", "/roles"])
    async def test_member_sees_own_space(
        self, client: httpx.AsyncClient, world: World, page: str
    ) -> None:
        await login(client, world.tenant.association_worker.email)
        response = await client.get(f"/c/{world.tenant.slug}{page}")
        assert response.status_code == 200
        assert "Consortium alpha-habitat" in response.text
        assert "beta" not in response.text.lower()


class TestRoles:
    async def test_wrong_role_is_refused_with_403(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.association_worker.email)
        assert (await client.get(f"/c/{world.tenant.slug}/journal")).status_code == 403
        token = await csrf_token(client, f"/c/{world.tenant.slug}/membres")
        response = await client.post(
            f"/c/{world.tenant.slug}/invitations",
            data={
                "csrf_token": token,
                "email": "new@x.fr",
                "organisation": str(world.tenant.lessor_id),
                "role": "pilot",
            },
        )
        assert response.status_code == 403
        assert "Votre rôle ne vous permet pas" in response.text

    async def test_matrix_page_shows_every_role(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        assert world.tenant.state_agent is not None
        await login(client, world.tenant.state_agent.email)
        text = html.unescape((await client.get(f"/c/{world.tenant.slug}/roles")).text)
        for label in (
            "Pilote du consortium",
            "Équipe association",
            "Agent de l'État",
            "Finances",
            "Lecture seule",
        ):
            assert label in text
        assert "Inviter des personnes" in text
