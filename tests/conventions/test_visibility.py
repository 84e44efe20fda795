"""Who sees which convention: parties only, the State agent only conventions with the State,
another consortium nothing (404 everywhere, as for a convention that does not exist)."""

from __future__ import annotations

import re
import uuid

import pytest
from starlette.routing import Mount, Route

from tests.conftest import login
from tests.conventions.conftest import Cast, article_ids, create, post


def convention_routes(app) -> list[Route]:  # type: ignore[no-untyped-def]
    mount = next(r for r in app.app.routes if isinstance(r, Mount) and r.path == "/c/{slug}")
    return [r for r in mount.routes if isinstance(r, Route) and "{convention_id}" in r.path]


def concrete(route: Route, url: str) -> str:
    path = route.path.split("{convention_id}", 1)[1]
    return url + re.sub(
        r"\{[^}]+\}", lambda m: "1" if m.group(0) == "{number}" else str(uuid.uuid4()), path
    )


@pytest.fixture
async def two(make_client, cast: Cast):  # type: ignore[no-untyped-def]
    """A partnership convention and a State convention, created by the pilot."""
    pilot = make_client()
    await login(pilot, cast.world.tenant.pilot.email)
    partnership = await create(pilot, cast)
    state = await create(pilot, cast, "state")
    # Association Deux leaves the partnership: its staff no longer sees it.
    page = (await pilot.get(partnership)).text
    row = page.split("Association Deux", 1)[1]
    party = re.search(r"/parties/([0-9a-f-]{36})/suppression", row).group(1)  # type: ignore[union-attr]
    assert (await post(pilot, f"{partnership}/parties/{party}/suppression", {})).status_code == 303
    return partnership, state


class TestDeclarations:
    def test_every_route_on_a_convention_loads_it_through_the_visibility_check(self, app) -> None:  # type: ignore[no-untyped-def]
        routes = convention_routes(app)
        assert len(routes) >= 25
        assert [r.path for r in routes if not getattr(r.endpoint, "loads_convention", False)] == []


class TestVisibility:
    async def test_list_shows_each_role_only_what_it_may_see(
        self,
        make_client,
        cast: Cast,
        two,  # type: ignore[no-untyped-def]
    ) -> None:
        partnership, state = two
        expectations = {
            cast.world.tenant.pilot.email: (True, True),
            cast.world.tenant.association_worker.email: (True, False),
            cast.association2_worker.email: (False, False),
            cast.state_agent.email: (False, True),
            cast.lessor_staff.email: (True, True),
        }
        for email, (sees_partnership, sees_state) in expectations.items():
            client = make_client()
            await login(client, email)
            listing = (await client.get(cast.base)).text
            assert (partnership.rsplit("/", 1)[1] in listing) is sees_partnership, email
            assert (state.rsplit("/", 1)[1] in listing) is sees_state, email
            for url, visible in ((partnership, sees_partnership), (state, sees_state)):
                assert (await client.get(url)).status_code == (200 if visible else 404), email

    async def test_hidden_convention_is_404_on_every_route(
        self,
        app,
        make_client,
        cast: Cast,
        two,  # type: ignore[no-untyped-def]
    ) -> None:
        partnership, state = two
        cases = (
            (cast.association2_worker.email, partnership),
            (cast.state_agent.email, partnership),
            (cast.world.tenant.association_worker.email, state),
            (cast.world.other_tenant.pilot.email, partnership),
        )
        for email, url in cases:
            client = make_client()
            await login(client, email)
            token_page = await client.get("/")
            token = re.search(r'name="csrf_token" value="([^"]+)"', token_page.text).group(1)  # type: ignore[union-attr]
            if email == cast.world.other_tenant.pilot.email:
                # Same path under the other consortium's own slug: still nothing.
                url = url.replace(cast.slug, cast.world.other_tenant.slug)
            for route in convention_routes(app):
                for method in sorted((route.methods or set()) - {"HEAD"}):
                    path = concrete(route, url)
                    response = await client.request(
                        method, path, data={"csrf_token": token, "body": "x", "title": "x"}
                    )
                    assert response.status_code == 404, (email, method, path, response.status_code)
                    assert "Convention" not in response.text.split("<main", 1)[1]

    async def test_parties_comment_state_agent_on_state_only_read_only_never(
        self,
        make_client,
        cast: Cast,
        two,  # type: ignore[no-untyped-def]
    ) -> None:
        from portal.tenants import repository

        partnership, state = two
        agent = make_client()
        await login(agent, cast.state_agent.email)
        article = f"{state}/articles/{(await article_ids(agent, state))[0]}"
        response = await post(agent, f"{article}/commentaires", {"body": "Avis du service."})
        assert response.status_code == 303
        response = await post(agent, f"{article}/propositions", {"title": "", "body": "Autre."})
        assert response.status_code == 303
        # The State agent does not edit.
        response = await post(agent, f"{state}/informations", {"title": "X", "revision": "1"})
        assert response.status_code == 403
        # A read-only member of a party organisation reads but does not comment.
        reader = make_client()
        await login(reader, cast.world.tenant.read_only.email)  # type: ignore[union-attr]
        assert (await reader.get(partnership)).status_code == 200
        page = (await reader.get(article.replace(state, partnership))).text
        assert "Publier le commentaire" not in page
        art = f"{partnership}/articles/{(await article_ids(reader, partnership))[0]}"
        assert (await post(reader, f"{art}/commentaires", {"body": "x"})).status_code == 403
        # Finance sees every convention but comments only where its organisation is party.
        finance_org = cast.association2_id
        scope = cast.world.tenant.scope
        person = cast.association2_worker
        assert person.membership_id is not None
        await repository.update_membership(scope, person.membership_id, role="finance")
        finance = make_client()
        await login(finance, person.email)
        assert (await finance.get(partnership)).status_code == 200
        art = f"{partnership}/articles/{(await article_ids(finance, partnership))[0]}"
        assert (await post(finance, f"{art}/commentaires", {"body": "x"})).status_code == 403
        assert finance_org  # its organisation left the partnership in the fixture
