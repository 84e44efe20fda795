"""A consortium where households are followed: the association following them (a worker and
its manager), a second association, the bailleur of their homes (a GLA référent), a second
bailleur, the State, finance and read-only members, and a signed convention."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from portal.core.tenancy import TenantContext
from tests.conftest import Person, World, _member, _person, csrf_token, login

ORIENTED = dt.date(2026, 10, 5)


@dataclass
class Home:
    world: World
    convention_id: uuid.UUID
    manager: Person  # association staff, habilité(e) à signer: the association's manager
    gla: Person  # lessor staff of the tenant's bailleur
    other_lessor_id: uuid.UUID
    other_gla: Person
    association2_id: uuid.UUID
    worker2: Person
    finance: Person
    people: dict[str, Person] = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return self.world.tenant.slug

    @property
    def base(self) -> str:
        return f"/c/{self.slug}/menages"

    @property
    def lessor_id(self) -> uuid.UUID:
        return self.world.tenant.lessor_id

    @property
    def association_id(self) -> uuid.UUID:
        return self.world.tenant.association_id

    @property
    def worker(self) -> Person:
        return self.world.tenant.association_worker

    def ctx(self, who: str) -> TenantContext:
        """The member `who` (a key of `people`) as the tenant middleware would build it."""
        person, organisation, role, may_sign = ROLES_OF[who](self)
        assert person.membership_id is not None
        return TenantContext.for_member(
            consortium_id=self.world.tenant.id,
            slug=self.slug,
            name=f"Consortium {self.slug}",
            user_id=person.id,
            membership_id=person.membership_id,
            organisation_id=organisation,
            role=role,
            may_sign=may_sign,
        )


ROLES_OF: dict[str, Any] = {
    "worker": lambda h: (h.worker, h.association_id, "association_staff", False),
    "manager": lambda h: (h.manager, h.association_id, "association_staff", True),
    "gla": lambda h: (h.gla, h.lessor_id, "lessor_staff", False),
    "other_gla": lambda h: (h.other_gla, h.other_lessor_id, "lessor_staff", False),
    "worker2": lambda h: (h.worker2, h.association2_id, "association_staff", False),
    "pilot": lambda h: (h.world.tenant.pilot, h.lessor_id, "pilot", True),
    "state_agent": lambda h: (h.world.tenant.state_agent, h.lessor_id, "state_agent", False),
    "finance": lambda h: (h.finance, h.lessor_id, "finance", False),
    "read_only": lambda h: (h.world.tenant.read_only, h.lessor_id, "read_only", False),
}


async def signed_convention(
    scope: Any,
    parties: list[tuple[uuid.UUID, str]],
    renewals: int = 1,
    reference: str = "AVDL-2026-01",
) -> uuid.UUID:
    from portal.conventions import repository

    convention_id = await repository.insert_convention(
        scope,
        {
            "kind": "partnership",
            "origin": "initial",
            "reference": reference,
            "title": "Accompagnement vers et dans le logement",
            "status": "signed",
            "starts_on": dt.date(2026, 1, 1),
            "duration_months": 24,
            "subletting_renewals": renewals,
            "signed_at": dt.datetime(2025, 12, 15, 10, 0, tzinfo=dt.UTC),
        },
    )
    for position, (organisation, role) in enumerate(parties):
        await repository.insert_party(
            scope,
            {
                "convention": convention_id,
                "organisation": organisation,
                "role": role,
                "position": position,
            },
        )
    return convention_id


@pytest.fixture
async def home(world: World) -> Home:
    from portal.core.db import transaction
    from portal.tenants import repository

    scope = world.tenant.scope
    async with transaction():
        other_lessor = await repository.insert_organisation(
            "Bailleur Deux", "39861722400016", ["lessor"], "Vienne"
        )
        association2 = await repository.insert_organisation(
            "Association Deux", "77567227210023", ["association"], "Vienne"
        )
        for org in (other_lessor, association2):
            await repository.insert_participation(scope, org)
        people = {
            "manager": await _member(
                scope,
                await _person("directrice@asso.example.org", "Directrice Asso"),
                world.tenant.association_id,
                "association_staff",
                True,
            ),
            "gla": await _member(
                scope,
                await _person("gla@alpha.example.org", "Chargée GLA"),
                world.tenant.lessor_id,
                "lessor_staff",
            ),
            "other_gla": await _member(
                scope,
                await _person("gla@deux.example.org", "GLA Deux"),
                other_lessor,
                "lessor_staff",
            ),
            "worker2": await _member(
                scope,
                await _person("aide@deux.example.org", "Aide Deux"),
                association2,
                "association_staff",
            ),
            "finance": await _member(
                scope,
                await _person("finances@alpha.example.org", "Finances Alpha"),
                world.tenant.lessor_id,
                "finance",
            ),
        }
        convention_id = await signed_convention(
            scope,
            [(world.tenant.lessor_id, "lessor"), (world.tenant.association_id, "association")],
        )
    found = Home(
        world,
        convention_id,
        people["manager"],
        people["gla"],
        other_lessor,
        people["other_gla"],
        association2,
        people["worker2"],
        people["finance"],
    )
    found.people = {
        "worker": world.tenant.association_worker,
        "pilot": world.tenant.pilot,
        "state_agent": world.tenant.state_agent,  # type: ignore[dict-item]
        "read_only": world.tenant.read_only,  # type: ignore[dict-item]
        **people,
    }
    return found


async def orient(home: Home, last_name: str = "Dubreuil", **values: Any) -> uuid.UUID:
    """A household oriented by the association's worker, housed by the tenant's bailleur."""
    from portal.households import register

    return await register.orient(
        home.ctx("worker"),
        {
            "convention": home.convention_id,
            "lessor": home.lessor_id,
            "source": "siao",
            "oriented_on": ORIENTED,
            "motive": "Impayés de loyer après une séparation",
            "last_name": last_name,
            "first_name": "Odile",
            "adults": 1,
            "children": 2,
            "phone": "06 12 34 56 78",
            "email": "",
            "address": "12 rue des Lilas, Villeurbanne",
            "home_type": "t3",
            **values,
        },
    )


async def signed_in(make_client: Any, home: Home, who: str) -> httpx.AsyncClient:
    client: httpx.AsyncClient = make_client()
    await login(client, home.people[who].email)
    return client


async def post(client: httpx.AsyncClient, path: str, data: dict[str, Any]) -> httpx.Response:
    token = await csrf_token(client, "/")
    return await client.post(path, data={"csrf_token": token, **data})
