"""The visibility matrix, walked: every page of the consortium and every households route and
export, as each role, with three households whose names, private diagnostic, housing synthesis
and alert text are looked for in every answer."""

from __future__ import annotations

import html
from typing import Any

import pytest

from tests.households.conftest import Home, signed_in
from tests.households.scene import (
    ALERT_NOTE,
    ELSEWHERE,
    FOLLOWED,
    NAMES,
    OTHER_ASSOCIATION,
    PRIVATE,
    SYNTHESIS,
    Scene,
    build,
)
from tests.test_isolation import tenant_routes

# Role → (names it sees, whether it sees the private text, the synthesis, the alert's text).
SEES: dict[str, tuple[set[str], bool, bool, bool]] = {
    "worker": ({FOLLOWED, ELSEWHERE}, True, True, True),
    "manager": ({FOLLOWED, ELSEWHERE}, True, True, True),
    "gla": ({FOLLOWED}, False, True, True),
    "other_gla": ({ELSEWHERE}, False, False, False),
    "worker2": ({OTHER_ASSOCIATION}, False, False, False),
    "pilot": ({FOLLOWED}, False, False, False),  # its organisation is FOLLOWED's landlord
    "state_agent": (set(), False, False, False),
    "finance": (set(), False, False, False),
    "read_only": (set(), False, False, False),
}
TABS = ("parcours", "logement", "diagnostic", "consentements", "alertes", "journal")


def paths(app: Any, home: Home, scene: Scene) -> list[str]:
    """Every page without an id, and every households page and export of the three."""
    found = ["/", "/notifications"]
    found += [
        f"/c/{home.slug}{r.path}"
        for r in tenant_routes(app)
        if "{" not in r.path and "GET" in (r.methods or set())
    ]
    for household in (scene.followed, scene.elsewhere, scene.other_association):
        file = f"{home.base}/{household}"
        found += [file, f"{file}/journal.csv", *(f"{file}/{tab}" for tab in TABS)]
        found.append(f"{file}/consentements/{scene.consent}/autorisation")
    return found


@pytest.fixture
async def scene(home: Home) -> Scene:
    return await build(home)


class TestEveryPageAsEveryRole:
    @pytest.mark.parametrize("who", sorted(SEES))
    async def test_each_role_sees_what_the_matrix_says_and_nothing_more(
        self, app: Any, home: Home, scene: Scene, make_client: Any, who: str
    ) -> None:
        names, private, synthesis, alert = SEES[who]
        client = await signed_in(make_client, home, who)
        seen = ""
        statuses = []
        for path in paths(app, home, scene):
            response = await client.get(path)
            statuses.append(response.status_code)
            assert response.status_code < 500, f"{path} → {response.status_code}"
            seen += html.unescape(response.text) + "\n"
        for name in NAMES:
            assert (name in seen) == (name in names), f"{who}: {name}"
        assert (PRIVATE in seen) == private, who
        assert (SYNTHESIS in seen) == synthesis, who
        assert (ALERT_NOTE in seen) == alert, who
        assert 200 in statuses

    @pytest.mark.parametrize("who", ["state_agent", "finance", "read_only"])
    async def test_counts_only_with_small_cells_hidden(
        self, home: Home, scene: Scene, make_client: Any, who: str
    ) -> None:
        client = await signed_in(make_client, home, who)
        page = await client.get(f"{home.base}/registre")
        assert page.status_code == 200
        assert "&lt; 5" in page.text
        assert "M-2026-" not in page.text  # not even pseudonyms: aggregates only
        assert (await client.get(f"{home.base}/{scene.followed}")).status_code == 404

    async def test_the_pilot_register_is_pseudonymous_with_real_counts(
        self, home: Home, scene: Scene, make_client: Any
    ) -> None:
        client = await signed_in(make_client, home, "pilot")
        page = html.unescape((await client.get(f"{home.base}/registre")).text)
        assert "M-2026-0001" in page and "M-2026-0002" in page
        assert FOLLOWED in page and ELSEWHERE not in page
        assert "< 5" not in page


class TestRolesPage:
    async def test_the_rule_is_shown_on_roles_and_rights(
        self, home: Home, make_client: Any
    ) -> None:
        client = await signed_in(make_client, home, "read_only")
        page = html.unescape((await client.get(f"/c/{home.slug}/roles")).text)
        assert "Les ménages accompagnés : qui voit quoi" in page
        assert "Bailleur du logement (référent GLA)" in page
        assert "« < 5 »" in page
