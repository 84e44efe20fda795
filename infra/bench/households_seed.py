"""Seeding for `households.py`: one consortium with thousands of households among many.

1. The demo (`portal.demo`, through services): its first consortium is the big one, with the
   demo's own households when the demo has them.
2. That consortium copied `others` times by `pages_seed.copy_template`, its households' tables
   left out: their sealed values are bound to the consortium and the household (the AEAD's
   associated data), so a copy of them would not open under the copy's ids.
3. People: `people - 1` more association workers of the association following the households,
   and as many more pilots of the pilot's organisation (a bailleur), all with the demo password:
   rows copied from the demo's, in SQL.
4. Households written as `register.orient` writes them (the household row, its identity sealed
   with `Sealer.seal_json(id, "identity", ...)` and its name hash, the orientation's transition
   with its sealed motive), plus one transition per step it went through, in bulk: one INSERT
   per 500 rows through `portal.core.scoped.insert` instead of three transactions per
   household. The big consortium is topped up to `count`; the first copy gets `SMALL`; the
   others 0 to 3 each. As in the demo, a third of them live in a home of the pilot's own
   organisation (the pilot sees their name), the rest in one of the other bailleur's.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from unittest import mock

import asyncpg
import pages_seed

from portal import demo
from portal.core import clock, scoped
from portal.core.db import transaction
from portal.core.scope import consortium_scope
from portal.core.tenancy import TenantScope
from portal.households import repository, sealing
from portal.households.enums import ExitReason, Occupancy, OrientationSource, Step
from portal.households.tables import Household, Identity, Transition

TEMPLATE = demo.CONSORTIA[0]
PASSWORD = demo.DEMO_PASSWORD
SMALL = 10  # households of the first copy, the small consortium of the query counts
CHUNK = 500  # rows per INSERT: 21 columns x 500 stays under asyncpg's 32,767 arguments
SPAN_DAYS = 3 * 365  # orientations spread over the last three years

LAST_NAMES = (
    "Aubertin", "Bassompierre", "Carvalho", "Delacroix", "Echeverria", "Fournel", "Gaudin",
    "Hoarau", "Ibanez", "Jourdan", "Kowalczyk", "Lemaire", "Moreau-Diallo", "Nguyen", "Oudin",
    "Perrault", "Quintin", "Rousset", "Sarr", "Texier", "Ulrich", "Vidal", "Weber", "Yilmaz",
)  # fmt: skip
FIRST_NAMES = ("Amina", "Bruno", "Céline", "Djibril", "Estelle", "Farid", "Gaëlle", "Hugo")
STEPS = tuple(Step)
OCCUPANCIES: tuple[Occupancy | None, ...] = (None, *Occupancy)
SOURCES = tuple(OrientationSource)
EXITS = tuple(ExitReason)
# The steps a household went through after its orientation to stand at each step.
PATHS = {
    Step.ORIENTATION: (),
    Step.ENTRY: (Step.ENTRY,),
    Step.DIAGNOSTIC: (Step.ENTRY, Step.DIAGNOSTIC),
    Step.ACCOMPANIMENT: (Step.ENTRY, Step.DIAGNOSTIC, Step.ACCOMPANIMENT),
    Step.SUSPENDED: (Step.ENTRY, Step.DIAGNOSTIC, Step.ACCOMPANIMENT, Step.SUSPENDED),
    Step.EXIT: (Step.ENTRY, Step.DIAGNOSTIC, Step.ACCOMPANIMENT, Step.EXIT),
    Step.WATCH: (Step.ENTRY, Step.DIAGNOSTIC, Step.ACCOMPANIMENT, Step.EXIT, Step.WATCH),
}


@dataclass(frozen=True)
class Space:
    """A consortium copied from the template, and the ids its households point at."""

    consortium_id: uuid.UUID
    slug: str
    association: uuid.UUID  # the association following the households
    referent: uuid.UUID  # its worker (the demo's association_staff person, or a copy)
    gla_org: uuid.UUID  # the other bailleur (lessor_staff's organisation)
    pilot_org: uuid.UUID  # the pilot's organisation, a bailleur too
    convention: uuid.UUID  # the signed partnership convention

    @property
    def scope(self) -> TenantScope:
        return TenantScope.for_platform(self.consortium_id, reason="benchmark seeding")


async def copy_consortia(conn: asyncpg.Connection, others: int) -> float:
    """`others` copies of the template consortium, without its households; seconds taken."""
    tables: Callable[[asyncpg.Connection], Awaitable[list[str]]] = pages_seed._tables

    async def without_households(conn: asyncpg.Connection) -> list[str]:
        return [t for t in await tables(conn) if not t.startswith("households_")]

    with mock.patch.object(pages_seed, "_tables", without_households):
        return await pages_seed.copy_template(conn, others + 1)


async def add_people(conn: asyncpg.Connection, slug: str, count: int) -> None:
    """`count - 1` more association workers and pilots in consortium `slug`, copies of the demo's
    (`bench{n}.` before their e-mail, no right to sign)."""
    if count <= 1:
        return
    for role in ("association_staff", "pilot"):
        person = await conn.fetchrow(
            'SELECT m.id AS membership, m."user" FROM tenants_membership m'
            " JOIN tenants_consortium c ON c.id = m.consortium"
            " WHERE c.slug = $1 AND m.role = $2 ORDER BY m.created_at LIMIT 1",
            slug,
            role,
        )
        assert person is not None, (slug, role)
        new_id = "md5({col}::text || 'bench' || n)::uuid"
        await _copy(
            conn,
            "auth_user",
            f"id = '{person['user']}'",
            {
                "id": new_id.format(col="id"),
                "email": "'bench' || n || '.' || email",
                "full_name": "full_name || ' ' || n",
                "is_platform_admin": "false",
            },
            count - 1,
        )
        await _copy(
            conn,
            "tenants_membership",
            f"id = '{person['membership']}'",
            {
                "id": new_id.format(col="id"),
                "user": new_id.format(col='"user"'),
                "may_sign": "false",
            },
            count - 1,
        )


async def _copy(
    conn: asyncpg.Connection, table: str, where: str, replaced: dict[str, str], count: int
) -> None:
    """`count` copies of the rows of `table` matching `where` (trusted SQL, ids only), the
    columns of `replaced` set to their SQL expression (`n`: the copy's number, 1 to count)."""
    columns = [
        r["column_name"]
        for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
            table,
        )
    ]
    names = ", ".join(f'"{c}"' for c in columns)
    values = ", ".join(replaced.get(c, f'"{c}"') for c in columns)
    await conn.execute(
        f"INSERT INTO {table} ({names}) SELECT {values} FROM {table},"  # noqa: S608
        f" generate_series(1, $1) AS n WHERE {where}",
        count,
    )


async def spaces(conn: asyncpg.Connection) -> list[Space]:
    """The template consortium, then its copies by number."""
    rows = await conn.fetch(
        """
        SELECT c.id, c.slug,
          (SELECT m.organisation FROM tenants_membership m WHERE m.consortium = c.id
             AND m.role = 'association_staff' ORDER BY m.created_at, m.id LIMIT 1) AS association,
          (SELECT m."user" FROM tenants_membership m WHERE m.consortium = c.id
             AND m.role = 'association_staff' ORDER BY m.created_at, m.id LIMIT 1) AS referent,
          (SELECT m.organisation FROM tenants_membership m WHERE m.consortium = c.id
             AND m.role = 'lessor_staff' ORDER BY m.created_at, m.id LIMIT 1) AS gla_org,
          (SELECT m.organisation FROM tenants_membership m WHERE m.consortium = c.id
             AND m.role = 'pilot' ORDER BY m.created_at, m.id LIMIT 1) AS pilot_org,
          (SELECT cv.id FROM conventions_convention cv WHERE cv.consortium = c.id
             AND cv.status = 'signed' AND cv.kind = 'partnership'
             ORDER BY cv.reference LIMIT 1) AS convention
        FROM tenants_consortium c
        WHERE c.slug = $1 OR c.slug LIKE $1 || '-%'
        """,
        TEMPLATE.slug,
    )
    found = [
        Space(
            r["id"],
            r["slug"],
            r["association"],
            r["referent"],
            r["gla_org"],
            r["pilot_org"],
            r["convention"],
        )
        for r in rows
    ]

    def number(space: Space) -> int:
        return 0 if space.slug == TEMPLATE.slug else int(space.slug.rpartition("-")[2])

    return sorted(found, key=number)


async def staff(conn: asyncpg.Connection, space: Space) -> list[uuid.UUID]:
    """The association's workers in `space`: the households' referents, in turn."""
    rows = await conn.fetch(
        'SELECT "user" FROM tenants_membership WHERE consortium = $1 AND organisation = $2'
        " AND role = 'association_staff' ORDER BY created_at, id",
        space.consortium_id,
        space.association,
    )
    return [r["user"] for r in rows]


async def write_households(
    space: Space, count: int, referents: Sequence[uuid.UUID], today: dt.date
) -> None:
    """`count` more households in `space`, oriented over the last three years (the newest
    last), numbered after the pseudonyms already taken each year."""
    if count <= 0:
        return
    scope = space.scope
    sealer = await sealing.sealer(scope)
    taken: dict[int, int] = {}
    households: list[dict[str, Any]] = []
    identities: list[dict[str, Any]] = []
    transitions: list[dict[str, Any]] = []
    now = clock.now()
    for i in range(count):
        household_id = uuid.uuid4()
        oriented = today - dt.timedelta(days=SPAN_DAYS - SPAN_DAYS * i // count)
        if oriented.year not in taken:
            taken[oriented.year] = await repository.pseudonyms_taken(scope, f"M-{oriented.year}-")
        taken[oriented.year] += 1
        step, referent = STEPS[i % len(STEPS)], referents[i % len(referents)]
        exit_reason = EXITS[i % len(EXITS)] if step in (Step.EXIT, Step.WATCH) else None
        last_name = LAST_NAMES[i % len(LAST_NAMES)]
        identity = {  # register._identity: NAME_FIELDS then CONTACT_FIELDS
            "last_name": last_name,
            "first_name": FIRST_NAMES[i // len(LAST_NAMES) % len(FIRST_NAMES)],
            "adults": 1 + i % 2,
            "children": i % 4,
            "phone": f"06 {i // 10_000 % 100:02d} {i // 100 % 100:02d} {i % 100:02d} 00",
            "email": "",
            "address": f"{i % 200 + 1} rue du Banc d'essai, Lyon",
            "home_type": ("t1", "t2", "t3", "t4", "t5")[i % 5],
        }
        identities.append(
            {
                "household": household_id,
                "sealed": sealer.seal_json(household_id, "identity", identity),
                "name_hash": sealer.name_hash(last_name),
            }
        )
        on, previous = oriented, Step.ORIENTATION
        transitions.append(
            {
                "household": household_id,
                "episode": 1,
                "to_step": Step.ORIENTATION,
                "on": oriented,
                "source": SOURCES[i % len(SOURCES)],
                "sealed_reason": sealer.seal(household_id, "reason", "Sortie d'hébergement"),
                "by": referent,
                "at": dt.datetime.combine(oriented, dt.time(9), dt.UTC),
            }
        )
        for k, target in enumerate(PATHS[step], start=1):
            on = min(today, on + dt.timedelta(days=15))
            transitions.append(
                {
                    "household": household_id,
                    "episode": 1,
                    "from_step": previous,
                    "to_step": target,
                    "on": on,
                    "exit_reason": exit_reason if target == Step.EXIT else None,
                    "sealed_reason": sealer.seal(household_id, "reason", "Suivi"),
                    "by": referent,
                    "at": dt.datetime.combine(on, dt.time(9, k), dt.UTC),
                }
            )
            previous = target
        households.append(
            {
                "id": household_id,
                "pseudonym": f"M-{oriented.year}-{taken[oriented.year]:04d}",
                "convention": space.convention,
                "association": space.association,
                "referent": referent,
                "lessor": space.pilot_org if i % 3 == 2 else space.gla_org,
                "step": step,
                "step_on": on,
                "oriented_on": oriented,
                "exit_reason": exit_reason,
                "occupancy": OCCUPANCIES[i % len(OCCUPANCIES)],
                "last_contact_at": now,
                "created_by": referent,
            }
        )
    async with transaction():
        for table, rows in (
            (Household, households),
            (Identity, identities),
            (Transition, transitions),
        ):
            for start in range(0, len(rows), CHUNK):
                await scoped.insert(scope, table, *rows[start : start + CHUNK])


async def seed(
    conn: asyncpg.Connection, others: int, count: int, people: int
) -> tuple[list[Space], dict[str, float]]:
    """Everything above, in order (the portal's engine started); the spaces (the big one
    first, then the small one, then the others) and the seconds each part took."""
    assert others >= 1, "the small consortium is the first copy"
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    await demo.load()
    seconds["demo (services)"] = time.perf_counter() - start
    seconds["copies (SQL)"] = await copy_consortia(conn, others)
    # Mails of the seeded notifications: nothing for the servers' job loop to do meanwhile.
    await conn.execute("DELETE FROM jobs_outbox")
    start = time.perf_counter()
    await add_people(conn, TEMPLATE.slug, people)
    seconds["people (SQL)"] = time.perf_counter() - start
    found = await spaces(conn)
    big, small, rest = found[0], found[1], found[2:]
    today = clock.today()
    start = time.perf_counter()
    have = await conn.fetchval(
        "SELECT count(*) FROM households_household WHERE consortium = $1", big.consortium_id
    )
    plan = [(big, count - have), (small, SMALL)] + [(s, n % 4) for n, s in enumerate(rest)]
    for space, more in plan:
        referents = await staff(conn, space) if space is big else [space.referent]
        async with consortium_scope(space.consortium_id):
            await write_households(space, more, referents, today)
    seconds["households (bulk)"] = time.perf_counter() - start
    await conn.execute("ANALYZE")
    return found, seconds
