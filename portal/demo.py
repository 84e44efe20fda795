"""Demo data: two fictional consortia with their organisations and one account per role.

Idempotent: what exists (by slug, SIRET or e-mail) is kept; only what is missing is created.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from portal.auth import service as auth
from portal.conventions import demo as conventions_demo
from portal.core import clock, db
from portal.core.db import transaction
from portal.core.permissions import Role
from portal.core.scope import platform_scope
from portal.core.storage import StorageError, get_storage
from portal.core.tenancy import TenantScope
from portal.deadlines import repository as deadlines_repository
from portal.documents import repository as documents_repository
from portal.documents import service as documents_service
from portal.households import demo as households_demo
from portal.payments import demo as payments_demo
from portal.tenants import repository as tenants_repository
from portal.tenants.enums import ConsortiumStatus, OrganisationKind, Programme
from portal.tenants.forms import siret_is_valid

DEMO_PASSWORD = "demo-portail-2026"


class NotReady(RuntimeError):
    """A dependency is missing: nothing was loaded."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def check_dependencies() -> None:
    """Before anything is written, so the demo is never loaded half-way: the database answers,
    the storage answers (its bucket is created when missing)."""
    try:
        await db.ping()
    except Exception as exc:
        raise NotReady(f"La base de données ne répond pas ({exc}) : rien n'a été chargé.") from exc
    try:
        await get_storage().ensure_ready()
    except StorageError as exc:
        raise NotReady(
            f"Le stockage des documents ne répond pas ({exc}) : rien n'a été chargé. "
            "Vérifiez PORTAL_STORAGE_URL."
        ) from exc


ADMIN_EMAIL = "admin@portail-demo.fr"

K = OrganisationKind


def siret(base13: str) -> str:
    """Completes a 13-digit base with its key, so demo SIRETs pass validation."""
    return next(base13 + str(k) for k in range(10) if siret_is_valid(base13 + str(k)))


@dataclass(frozen=True)
class DemoOrg:
    name: str
    siret: str
    kinds: tuple[str, ...]
    city: str


@dataclass(frozen=True)
class DemoPerson:
    email: str
    full_name: str
    organisation: str  # SIRET
    role: Role
    may_sign: bool = False


@dataclass(frozen=True)
class DemoConsortium:
    name: str
    slug: str
    programme: Programme
    departements: tuple[str, ...]
    organisations: tuple[DemoOrg, ...]
    people: tuple[DemoPerson, ...]
    deadlines: tuple[tuple[str, int, str | None], ...] = ()  # title, days from today, SIRET
    quarterly_reports: tuple[str, ...] = ()  # SIRETs of organisations owing one per quarter


RHONE = DemoOrg("Rhône Habitat Solidaire", siret("4123456780001"), (K.LESSOR,), "Lyon")
ISERE = DemoOrg("Dauphiné Logement Social", siret("4234567890001"), (K.LESSOR,), "Grenoble")
BOURGOGNE = DemoOrg("Bourgogne Foyers Hlm", siret("4345678900001"), (K.LESSOR,), "Dijon")
HORIZON = DemoOrg(
    "Association Horizon Insertion", siret("7812345670001"), (K.ASSOCIATION,), "Villeurbanne"
)
TOIT = DemoOrg("Accueil et Toit", siret("7823456780001"), (K.ASSOCIATION, K.LESSOR), "Grenoble")
CHEMINS = DemoOrg("Les Chemins du Logement", siret("7834567890001"), (K.ASSOCIATION,), "Dijon")
ENTRAIDE = DemoOrg(
    "Entraide Saône Accompagnement",
    siret("7845678900001"),
    (K.ASSOCIATION, K.SIAO),
    "Chalon-sur-Saône",
)
PHOCEE = DemoOrg(
    "Entraide Phocéenne Logement", siret("7856789010001"), (K.ASSOCIATION,), "Marseille"
)
DDETS69 = DemoOrg("DDETS du Rhône", siret("1306900010001"), (K.STATE_SERVICE,), "Lyon")
OPALE = DemoOrg("Opale Habitat Littoral", siret("4456789010001"), (K.LESSOR,), "Boulogne-sur-Mer")
PHARE = DemoOrg(
    "Association Le Phare du Calaisis", siret("7867890120001"), (K.ASSOCIATION,), "Calais"
)
DDETS62 = DemoOrg("DDETS du Pas-de-Calais", siret("1306200010001"), (K.STATE_SERVICE,), "Arras")

CONSORTIA = (
    DemoConsortium(
        name="Inter-bailleurs Logement Accompagné Centre-Est",
        slug="centre-est-accompagne",
        programme=Programme.FNAVDL,
        departements=("69", "38", "21", "71", "13"),
        organisations=(RHONE, ISERE, BOURGOGNE, HORIZON, TOIT, CHEMINS, ENTRAIDE, PHOCEE, DDETS69),
        people=(
            DemoPerson(
                "claire.martin@rhone-habitat-demo.fr",
                "Claire Martin",
                RHONE.siret,
                Role.PILOT,
                True,
            ),
            DemoPerson(
                "julien.bernard@dauphine-logement-demo.fr",
                "Julien Bernard",
                ISERE.siret,
                Role.LESSOR_STAFF,
            ),
            DemoPerson(
                "samia.haddad@horizon-insertion-demo.fr",
                "Samia Haddad",
                HORIZON.siret,
                Role.ASSOCIATION_STAFF,
                True,
            ),
            DemoPerson(
                "marc.lefebvre@ddets69-demo.fr",
                "Marc Lefebvre",
                DDETS69.siret,
                Role.STATE_AGENT,
                True,
            ),
            DemoPerson(
                "isabelle.roux@rhone-habitat-demo.fr", "Isabelle Roux", RHONE.siret, Role.FINANCE
            ),
        ),
        deadlines=(
            ("Rapport d'activité du trimestre", 6, HORIZON.siret),
            ("Comité de pilotage annuel", 45, None),
            ("Bilan intermédiaire transmis à la DDETS", 1, RHONE.siret),
        ),
        quarterly_reports=(HORIZON.siret, TOIT.siret),
    ),
    DemoConsortium(
        name="Logements Hlm accompagnés Côte d'Opale",
        slug="cote-opale",
        programme=Programme.HLM_ACCOMPAGNES,
        departements=("62",),
        organisations=(OPALE, PHARE, DDETS62),
        people=(
            DemoPerson(
                "thomas.dupuis@opale-habitat-demo.fr",
                "Thomas Dupuis",
                OPALE.siret,
                Role.PILOT,
                True,
            ),
            DemoPerson(
                "nadia.benali@lephare-demo.fr", "Nadia Benali", PHARE.siret, Role.ASSOCIATION_STAFF
            ),
        ),
    ),
)


async def _user(email: str, full_name: str) -> auth.CurrentUser:
    user = await auth.user_by_email(email)
    if user is None:
        await auth.create_user(email, full_name, DEMO_PASSWORD)
        user = await auth.user_by_email(email)
    assert user is not None
    return user


async def load() -> list[tuple[str, str, str, str]]:
    """Loads the demo data; returns (email, password, role, consortium slug) per account."""
    async with platform_scope("`portal demo` loads the data of several consortia"):
        return await _load()


async def _load() -> list[tuple[str, str, str, str]]:
    accounts: list[tuple[str, str, str, str]] = []
    await auth.create_admin(ADMIN_EMAIL, "Administration du portail", DEMO_PASSWORD)
    accounts.append((ADMIN_EMAIL, DEMO_PASSWORD, "platform_admin", "-"))
    for demo in CONSORTIA:
        async with transaction():
            row = await tenants_repository.consortium_by_slug(demo.slug)
            consortium_id = (
                row["id"]
                if row
                else await tenants_repository.insert_consortium(
                    demo.name,
                    demo.slug,
                    demo.programme,
                    list(demo.departements),
                    ConsortiumStatus.ACTIVE,
                )
            )
            scope = TenantScope.for_platform(consortium_id, reason="the demo seeds its consortium")
            org_ids = {}
            for org in demo.organisations:
                found = await tenants_repository.organisation_by_siret(org.siret)
                org_id = (
                    found["id"]
                    if found
                    else await tenants_repository.insert_organisation(
                        org.name, org.siret, list(org.kinds), org.city
                    )
                )
                if not await tenants_repository.organisation_in(scope, org_id):
                    await tenants_repository.insert_participation(scope, org_id)
                org_ids[org.siret] = org_id
            for person in demo.people:
                user = await _user(person.email, person.full_name)
                if not await tenants_repository.member_of_user(scope, user.id):
                    await tenants_repository.insert_membership(
                        scope, user.id, org_ids[person.organisation], person.role, person.may_sign
                    )
                accounts.append((person.email, DEMO_PASSWORD, person.role.value, demo.slug))
            if demo.deadlines and not await deadlines_repository.all_of(scope):
                pilot = await auth.user_by_email(demo.people[0].email)
                assert pilot is not None
                today = clock.today()
                for title, days, siret in demo.deadlines:
                    await deadlines_repository.insert(
                        scope,
                        {
                            "title": title,
                            "due_on": today + dt.timedelta(days=days),
                            "organisation": org_ids[siret] if siret else None,
                        },
                        pilot.id,
                    )
            if demo.quarterly_reports and not await documents_repository.items(scope):
                pilot = await auth.user_by_email(demo.people[0].email)
                assert pilot is not None
                for siret_code in demo.quarterly_reports:
                    await documents_repository.insert_request(
                        scope,
                        {
                            "organisation": org_ids[siret_code],
                            "title": "Rapport d'activité trimestriel",
                            "recurrence": "quarterly",
                            "starts_on": dt.date(clock.today().year, 1, 1),
                            "days_after_period": 30,
                        },
                        pilot.id,
                    )
    await documents_service.generate_items(clock.now())
    first = CONSORTIA[0]
    people = [await _user(p.email, p.full_name) for p in first.people]
    await conventions_demo.load(first.slug, people[0], people[3])
    finance = next(u for u, p in zip(people, first.people, strict=True) if p.role == Role.FINANCE)
    await payments_demo.load(first.slug, finance)
    by_role = {p.role: u for u, p in zip(people, first.people, strict=True)}
    await households_demo.load(
        first.slug,
        by_role[Role.ASSOCIATION_STAFF].id,
        by_role[Role.LESSOR_STAFF].id,
        by_role[Role.PILOT].id,
    )
    return accounts
