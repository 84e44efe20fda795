"""A consortium with what conventions need: a State service, a second association that is not
party to everything, a second pilot, and helpers to drive a convention over HTTP."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Person, World, _member, _person, csrf_token, login


@dataclass
class Cast:
    world: World
    state_id: uuid.UUID
    state_agent: Person
    association2_id: uuid.UUID
    association2_worker: Person
    second_pilot: Person
    lessor_staff: Person

    @property
    def slug(self) -> str:
        return self.world.tenant.slug

    @property
    def base(self) -> str:
        return f"/c/{self.slug}/conventions"


@pytest.fixture
async def cast(world: World) -> Cast:
    from portal.tenants import repository

    scope = world.tenant.scope
    state = await repository.insert_organisation(
        "DDETS du Rhône", "13000548100010", ["state_service"], "Lyon"
    )
    association2 = await repository.insert_organisation(
        "Association Deux", "77567227210023", ["association"], "Vienne"
    )
    for org in (state, association2):
        await repository.insert_participation(scope, org)
    agent = await _member(
        scope,
        await _person("instructeur@ddets.example.org", "Instructeur DDETS"),
        state,
        "state_agent",
        True,
    )
    worker2 = await _member(
        scope,
        await _person("aide@deux.example.org", "Aide Deux"),
        association2,
        "association_staff",
    )
    pilot2 = await _member(
        scope,
        await _person("copilote@alpha.example.org", "Copilote Alpha"),
        world.tenant.lessor_id,
        "pilot",
    )
    staff = await _member(
        scope,
        await _person("gla@alpha.example.org", "Chargée GLA"),
        world.tenant.lessor_id,
        "lessor_staff",
    )
    return Cast(world, state, agent, association2, worker2, pilot2, staff)


async def post(client: httpx.AsyncClient, path: str, data: Mapping[str, object]) -> httpx.Response:
    token = await csrf_token(client, "/")
    return await client.post(path, data={"csrf_token": token, **data})


async def create(client: httpx.AsyncClient, cast: Cast, kind: str = "partnership") -> str:
    """Creates a convention as the signed-in pilot; returns its URL."""
    response = await post(client, cast.base, {"kind": kind, "title": f"Convention {kind} test"})
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


async def article_ids(client: httpx.AsyncClient, url: str) -> list[str]:
    page = (await client.get(url)).text
    return list(dict.fromkeys(re.findall(r"/articles/([0-9a-f-]{36})\"", page)))


async def make_ready_to_freeze(
    client: httpx.AsyncClient, url: str, cast: Cast, starts_on: str = "01/01/2027"
) -> None:
    """Dates, households, a balanced plan, every signatory and référent: what freezing
    requires (a renewal passes its own start: periods of a chain never overlap)."""
    info = {
        "title": "Convention de partenariat AVDL Rhône",
        "project_name": "Logement d'abord Rhône",
        "territory": "Métropole de Lyon",
        "starts_on": starts_on,
        "duration_months": "24",
        "households_target": "100",
        "homes_target": "60",
        "unit_diagnostic_cents": "150",
        "unit_accompaniment_cents": "1 500",
        "unit_gla_cents": "250,00",
        "revision": await current_revision(client, url),
    }
    assert (await post(client, f"{url}/informations", info)).status_code == 303
    for data in (
        {"side": "expense", "category": "diagnostic", "label": "Diagnostics", "amount": "15 000"},
        {
            "side": "expense",
            "category": "accompaniment",
            "label": "Accompagnement",
            "amount": "300 000,00",
        },
        {"side": "expense", "category": "gla", "label": "GLA", "amount": "30 000"},
        {
            "side": "resource",
            "category": "state_fund",
            "label": "FNAVDL",
            "amount": "300 000",
            "confirmed": "on",
            "funding_line": "FNAVDL hors DALO",
        },
        {
            "side": "resource",
            "category": "lessors",
            "label": "Temps de personnel des bailleurs",
            "amount": "45 000",
            "in_kind": "on",
        },
    ):
        response = await post(client, f"{url}/budget/lignes", data)
        assert response.status_code == 303, response.text
    page = (await client.get(url)).text
    for party_id in re.findall(r"/parties/([0-9a-f-]{36})\"", page):
        response = await post(
            client,
            f"{url}/parties/{party_id}",
            {
                "role": _role_of(page, party_id),
                "signatory_name": "Claire Martin",
                "signatory_title": "Directrice",
                "referent_name": "Julie Bernard",
            },
        )
        assert response.status_code == 303, response.text


def _role_of(page: str, party_id: str) -> str:
    block = page.split(f'id="f-role-{party_id}"', 1)[1].split("</select>", 1)[0]
    return re.search(r'<option value="([a-z_]+)" selected>', block).group(1)  # type: ignore[union-attr]


async def current_revision(client: httpx.AsyncClient, url: str) -> str:
    page = (await client.get(url)).text
    return re.search(r'name="revision" value="(\d+)"', page).group(1)  # type: ignore[union-attr]


async def set_status(client: httpx.AsyncClient, url: str, status: str) -> httpx.Response:
    return await post(client, f"{url}/statut", {"status": status})


async def convention_row(url: str) -> dict[str, Any]:
    from portal.conventions.tables import Convention

    row = (
        await Convention.select()
        .where(  # tenant-scope-ok: test inspection
            Convention.id == uuid.UUID(url.rsplit("/", 1)[1])
        )
        .first()
    )
    assert row is not None
    return row


__all__ = ["Cast", "login"]
