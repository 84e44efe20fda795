"""Seeding for `pages.py`: one consortium written by the portal's own code, then copied.

The template is the demo's first consortium (`portal.demo`, through services), topped up to the
sizes of a busy consortium: 10 members, a convention with 20 budget lines, a payment schedule of
20 lines, document versions, notifications. It is then copied `count - 1` times in bulk SQL
(one INSERT…SELECT per table), every id of a template row replaced by `md5(id || copy)`, so
foreign keys stay consistent without a mapping table. Unique text columns get a suffix.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg

from portal import demo
from portal.auth import service as auth
from portal.conventions import editing
from portal.conventions import repository as conventions_repository
from portal.conventions import service as conventions
from portal.core.actor import Actor
from portal.core.db import transaction
from portal.core.permissions import Role
from portal.documents import repository as documents_repository
from portal.notifications import service as notifications
from portal.payments import schedules
from portal.payments.enums import Basis, ScheduleKind, Trigger
from portal.payments.schedules import LineDraft, ScheduleDraft
from portal.tenants import repository as tenants_repository
from portal.tenants import service as tenants

TEMPLATE = demo.CONSORTIA[0]
PASSWORD = demo.DEMO_PASSWORD
EXTRA_PEOPLE = (  # 5 demo members + these = 10
    ("lea.fontaine", "Léa Fontaine", Role.PILOT),
    ("hugo.perrin", "Hugo Perrin", Role.PILOT),
    ("ines.garcia", "Inès Garcia", Role.FINANCE),
    ("louis.moreau", "Louis Moreau", Role.LESSOR_STAFF),
    ("emma.girard", "Emma Girard", Role.ASSOCIATION_STAFF),
)
BUDGET_LINES = 20
PAYMENT_LINES = 20


async def seed_template() -> None:
    """The demo, then the top-up; all through services except document versions (their files
    are never read by the pages measured, so rows are written by the repository alone)."""
    await demo.load()
    pilot = await auth.user_by_email(TEMPLATE.people[0].email)
    assert pilot is not None
    ctx = await tenants.resolve_tenant(TEMPLATE.slug, pilot.id)
    assert ctx is not None
    lead = TEMPLATE.organisations[0].siret
    async with transaction():
        org = await tenants_repository.organisation_by_siret(lead)
        assert org is not None
        for login, name, role in EXTRA_PEOPLE:
            email = f"{login}@rhone-habitat-demo.fr"
            await auth.create_user(email, name, PASSWORD)
            user = await auth.user_by_email(email)
            assert user is not None
            await tenants_repository.insert_membership(ctx, user.id, org["id"], role, False)

    rows = await conventions_repository.conventions(ctx)
    draft = next(r for r in rows if r["status"] == "draft" and r["kind"] == "partnership")
    opened = await conventions.open_convention(ctx, draft["id"])
    assert opened is not None
    have = len(await conventions_repository.budget_lines(ctx, draft["id"]))
    async with transaction():
        for n in range(have, BUDGET_LINES):
            await editing.add_budget_line(
                Actor.system(pilot.id, pilot.email),
                opened,
                pilot,
                {
                    "side": "expense" if n % 2 else "resource",
                    "category": "engineering" if n % 2 else "foundation",
                    "label": f"Ligne complémentaire {n + 1}",
                    "amount_cents": 100_000 * (n + 1),
                    "eligible": True,
                    "confirmed": False,
                    "in_kind": False,
                    "funding_line": "",
                },
            )

    signed = next(r for r in rows if r["status"] != "draft" and r["kind"] == "partnership")
    finance = await auth.user_by_email("ines.garcia@rhone-habitat-demo.fr")
    assert finance is not None
    fctx = await tenants.resolve_tenant(TEMPLATE.slug, finance.id)
    assert fctx is not None
    orgs = {o["name"]: o["id"] for o in await tenants.organisations(fctx)}
    start: dt.date = signed["starts_on"]
    async with transaction():
        await schedules.create(
            Actor.system(finance.id, finance.email),
            fctx,
            finance,
            ScheduleDraft(
                convention=signed["id"],
                kind=ScheduleKind.REPAYMENT,
                label="Reversements mensuels à l'association",
                funder="lessor",
                payer_organisation=orgs["Rhône Habitat Solidaire"],
                payer_name="Rhône Habitat Solidaire",
                beneficiary=orgs["Accueil et Toit"],
                basis=Basis.FIXED,
                total_cents=PAYMENT_LINES * 100_000,
                unit_cost_cents=None,
                unit_label="",
                rate_percent=100,
                source_schedule=None,
                decision_reference="",
                lines=[
                    LineDraft(
                        None,
                        f"Mensualité {n + 1}",
                        100_000,
                        start + dt.timedelta(days=30 * n),
                        Trigger.DATE,
                    )
                    for n in range(PAYMENT_LINES)
                ],
            ),
        )

    async with transaction():
        for item in (await documents_repository.items(ctx))[:6]:
            for number in (1, 2):
                await documents_repository.insert_version(
                    ctx,
                    {
                        "item": item["id"],
                        "number": number,
                        "filename": f"rapport-v{number}.pdf",
                        "file_type": "pdf",
                        "content_type": "application/pdf",
                        "size": 120_000,
                        "sha256": uuid.uuid4().hex * 2,
                        "storage_key": f"{ctx.consortium_id}/{uuid.uuid4().hex}",
                        "uploaded_by": pilot.id,
                        "uploaded_by_name": pilot.full_name,
                    },
                )
            await documents_repository.update_item(ctx, item["id"], status="submitted")
        members = [m["user_id"] for m in await tenants.members(ctx)]
        for n in range(5):
            await notifications.notify(
                members,
                kind="reminder",
                title=f"Rappel : pièce attendue ({n + 1})",
                link=f"/c/{TEMPLATE.slug}/pieces",
                consortium_id=ctx.consortium_id,
            )


# Unique text columns: a suffix per copy keeps them unique.
SUFFIXED = {
    ("tenants_consortium", "slug"): "{col} || '-' || n",
    ("tenants_consortium", "name"): "{col} || ' ' || n",
    ("tenants_organisation", "siret"): "substr(md5({col} || n), 1, 14)",
    ("auth_user", "email"): "'b' || n || '.' || {col}",
    ("documents_version", "storage_key"): "{col} || '-' || n",
    ("conventions_annex", "storage_key"): "{col} || '-' || n",
    ("tenants_invitation", "token_hash"): "md5({col} || n)",
    ("signing_participant", "token_hash"): "md5({col} || n)",
}
# Which template rows each global table contributes ($1: the template consortium).
GLOBAL_ROWS = {
    "tenants_consortium": "id = $1",
    "tenants_organisation": "id IN (SELECT organisation FROM tenants_participation"
    " WHERE consortium = $1)",
    "auth_user": 'id IN (SELECT "user" FROM tenants_membership WHERE consortium = $1)',
    "notifications_notification": "consortium_id = $1",
    "notifications_preference": '"user" IN (SELECT "user" FROM tenants_membership'
    " WHERE consortium = $1)",
}


async def _tables(conn: asyncpg.Connection) -> list[str]:
    """Tables to copy, parents before children (foreign keys are checked row by row)."""
    tenant = {
        r["table_name"]
        for r in await conn.fetch(
            "SELECT table_name FROM information_schema.columns"
            " WHERE table_schema = 'public' AND column_name = 'consortium'"
        )
    }
    wanted = tenant | set(GLOBAL_ROWS)
    edges = await conn.fetch(
        "SELECT conrelid::regclass::text AS child, confrelid::regclass::text AS parent"
        " FROM pg_constraint WHERE contype = 'f'"
    )
    parents: dict[str, set[str]] = {t: set() for t in wanted}
    for e in edges:
        if e["child"] in wanted and e["parent"] in wanted and e["child"] != e["parent"]:
            parents[e["child"]].add(e["parent"])
    ordered: list[str] = []
    while parents:
        ready = sorted(t for t, p in parents.items() if not p - set(ordered))
        ordered += ready
        for t in ready:
            del parents[t]
    return ordered


async def copy_template(conn: asyncpg.Connection, count: int) -> float:
    """Copies the template consortium `count - 1` times; returns the seconds taken."""
    start = dt.datetime.now(dt.UTC)
    template = await conn.fetchval(
        "SELECT id FROM tenants_consortium WHERE slug = $1", TEMPLATE.slug
    )
    tables = await _tables(conn)
    where = {t: GLOBAL_ROWS.get(t, "consortium = $1") for t in tables}
    async with conn.transaction():
        await conn.execute("CREATE TEMP TABLE bench_ids (id uuid PRIMARY KEY) ON COMMIT DROP")
        for t in tables:
            await conn.execute(
                f"INSERT INTO bench_ids SELECT id FROM {t} WHERE {where[t]}"  # noqa: S608
                " ON CONFLICT DO NOTHING",
                template,
            )
        for t in tables:
            columns = await conn.fetch(
                "SELECT column_name, data_type FROM information_schema.columns"
                " WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
                t,
            )
            names, values = [], []
            for c in columns:
                col = f'"{c["column_name"]}"'
                names.append(col)
                if (t, c["column_name"]) in SUFFIXED:
                    values.append(SUFFIXED[(t, c["column_name"])].format(col=col))
                elif c["data_type"] == "uuid":
                    values.append(
                        f"CASE WHEN {col} IN (SELECT id FROM bench_ids)"  # noqa: S608
                        f" THEN md5({col}::text || n)::uuid ELSE {col} END"
                    )
                else:
                    values.append(col)
            await conn.execute(
                f"INSERT INTO {t} ({', '.join(names)})"  # noqa: S608
                f" SELECT {', '.join(values)} FROM {t}, generate_series(1, $2) AS n"
                f" WHERE {where[t]}",
                template,
                count - 1,
            )
    await conn.execute("ANALYZE")
    return (dt.datetime.now(dt.UTC) - start).total_seconds()


async def targets(conn: asyncpg.Connection, users: int) -> list[dict[str, Any]]:
    """`users` signed-in people spread over the consortia, pilots only (they see every page),
    with the ids their pages need: the draft convention with 20 budget lines, the schedule
    with 20 payment lines."""
    rows = await conn.fetch(
        """
        SELECT u.email, c.slug,
          (SELECT cv.id FROM conventions_convention cv WHERE cv.consortium = c.id
             AND cv.status = 'draft' ORDER BY cv.kind LIMIT 1) AS convention,
          (SELECT s.id FROM payments_schedule s WHERE s.consortium = c.id
             ORDER BY (SELECT count(*) FROM payments_line l WHERE l.schedule = s.id) DESC
             LIMIT 1) AS schedule
        FROM tenants_membership m
        JOIN auth_user u ON u.id = m."user"
        JOIN tenants_consortium c ON c.id = m.consortium
        WHERE m.role = 'pilot' AND c.slug LIKE $1
        ORDER BY c.slug, u.email
        """,
        f"{TEMPLATE.slug}%",
    )
    by_slug: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_slug.setdefault(r["slug"], []).append(dict(r))
    slugs = sorted(by_slug)
    step = max(1, len(slugs) // users)
    chosen: list[dict[str, Any]] = []
    i = 0
    while len(chosen) < users:  # one pilot per consortium, then more pilots of the same
        slug = slugs[(i * step) % len(slugs)]
        people = by_slug[slug]
        chosen.append(people[(i * step // len(slugs)) % len(people)])
        i += 1
    return chosen
