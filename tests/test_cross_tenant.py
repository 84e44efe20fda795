"""Real ids of another consortium, on every route of each domain: a member of consortium B
who puts the ids of A's objects (conventions, articles, pieces, lines, requests, members…) into
B's own URLs gets a 404 on each GET and POST, and nothing of A changes.

Random ids (tests/test_isolation.py) prove only that unknown ids are refused; these are ids that
exist, which a repository that forgot its consortium filter would find."""

from __future__ import annotations

import re
import uuid
from collections import defaultdict
from functools import partial
from typing import Any

import httpx
import pytest
from starlette.routing import Route

from tests.conftest import csrf_token, login
from tests.fuzz_seed import seed
from tests.test_fuzz_forms import _raw, _starlette, changed, snapshot
from tests.test_isolation import tenant_routes

# Route parameter → the table its id names. `line_id` names a budget line under a convention
# and a payment line under /versements. A new parameter must be added here (the test says so).
PARAMETERS = {
    "member_id": "tenants_membership",
    "invitation_id": "tenants_invitation",
    "organisation_id": "tenants_participation",  # an organisation taking part in A only
    "deadline_id": "deadlines_deadline",
    "item_id": "documents_item",
    "version_id": "documents_version",
    "convention_id": "conventions_convention",
    "party_id": "conventions_party",
    "indicator_id": "conventions_indicator",
    "article_id": "conventions_article",
    "comment_id": "conventions_comment",
    "suggestion_id": "conventions_suggestion",
    "annex_id": "conventions_annex",
    "number": "conventions_version",
    "request_id": "signing_request",
    "participant_id": "signing_participant",
    "schedule_id": "payments_schedule",
    "payment_id": "payments_payment",
    "model_id": "payments_export_model",
    "export_id": "payments_export",
    "household_id": "households_household",
    "consent_id": "households_consent",
    "alert_id": "households_alert",
}
# Route parameters that name no row: a household file's tab.
FIXED = {"tab": "parcours"}
PARAMETER = re.compile(r"\{([^}:]+)(?::[^}]*)?\}")


def table_of(parameter: str, path: str) -> str:
    if parameter == "line_id":
        return "conventions_budget_line" if path.startswith("/conventions") else "payments_line"
    return PARAMETERS[parameter]


def _value(values: dict[str, str], match: re.Match[str]) -> str:
    return values[match.group(1)]


def domain_of(route: Route) -> str:
    return str(route.endpoint.__module__).split(".")[1]


class Rows:
    """Consortium A's rows of every tenant table, and the way up from a child to its parents."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]], parents: dict[str, dict[str, str]]):
        self.rows = rows
        self.parents = parents  # table → {column: referenced table}
        self.by_id = {(t, r["id"]): r for t, rs in rows.items() for r in rs}

    def ancestor(self, table: str, row: dict[str, Any], wanted: str, depth: int = 0) -> Any:
        """The id of `row`'s parent in `wanted`, following foreign keys (None: not related)."""
        if table == wanted:
            return row["id"]
        for column, parent in self.parents.get(table, {}).items():
            found = self.by_id.get((parent, row.get(column)))
            if found is not None and depth < 4:
                up = self.ancestor(parent, found, wanted, depth + 1)
                if up is not None:
                    return up
        return None

    def fill(self, path: str) -> str | None:
        """`path` with A's real ids: the last parameter's row, and its own parents for the
        parameters before it (so only the consortium is wrong). None: A has no such row."""
        names = PARAMETER.findall(path)
        ids = [n for n in names if n not in FIXED]
        if not ids:
            return None
        last = table_of(ids[-1], path)
        for row in self.rows.get(last, []):
            values: dict[str, str] = dict(FIXED)
            for name in ids:
                table = table_of(name, path)
                if name == "organisation_id":
                    values[name] = str(row["organisation"])
                    continue
                if name == "number":
                    values[name] = str(row["number"])
                    continue
                found = self.ancestor(last, row, table)
                if found is None:
                    break
                values[name] = str(found)
            else:
                return PARAMETER.sub(partial(_value, values), path)
        return None


async def rows_of(consortium_id: uuid.UUID) -> Rows:
    from piccolo.conf.apps import Finder

    from portal.core import db

    engine = db.engine()
    rows: dict[str, list[dict[str, Any]]] = {}
    parents: dict[str, dict[str, str]] = {}
    for table in Finder().get_table_classes():
        if "consortium" not in {c._meta.name for c in table._meta.columns}:
            continue
        name = table._meta.tablename
        parents[name] = {
            c._meta.db_column_name: c._foreign_key_meta.resolved_references._meta.tablename
            for c in table._meta.foreign_key_columns
            if c._meta.name != "consortium"
        }
        found = await engine.run_querystring(  # tenant-scope-ok: the test reads A's rows
            _raw(f"SELECT * FROM \"{name}\" WHERE consortium = '{consortium_id}'")
        )
        rows[name] = [dict(r) for r in found]
    return Rows(rows, parents)


async def _an_export(accounts: list[tuple[str, str, str, str]], slug: str) -> None:
    """The seed saves an export model; an export itself is asked here, as finance would."""
    from portal.auth import service as auth
    from portal.core.actor import Actor
    from portal.payments import exports
    from portal.payments.enums import ExportFormat
    from portal.payments.repository import LineFilter
    from portal.tenants.service import resolve_tenant

    email = next(e for e, _, role, s in accounts if role == "finance" and s == slug)
    finance = await auth.user_by_email(email)
    assert finance is not None
    ctx = await resolve_tenant(slug, finance.id)
    assert ctx is not None
    await exports.request_export(
        Actor.system(finance.id, finance.email),
        ctx,
        finance,
        exports.default_choice(),
        ExportFormat.CSV,
        LineFilter(),
    )


@pytest.fixture
async def attack(app: Any, make_client: Any) -> dict[str, Any]:
    """The demo's two consortia, A seeded with one object of every kind; B's pilot, signed in."""
    from portal import demo
    from portal.tenants import repository as tenants

    accounts = await demo.load()
    await seed(accounts, make_client)
    pilots = [(e, p, s) for e, p, role, s in accounts if role == "pilot"]
    victim_slug = pilots[0][2]  # the seed fills the first pilot's consortium
    await _an_export(accounts, victim_slug)
    email, password, slug = next(p for p in pilots if p[2] != victim_slug)
    victim = await tenants.consortium_by_slug(victim_slug)
    assert victim is not None
    client = make_client()
    await login(client, email, password)  # types the TOTP code the seed gave this pilot
    # Households' files are written by association staff, whose permission a pilot lacks:
    # B's association worker tries them, so the answer is decided by the ids alone.
    worker_email, worker_password = next(
        (e, p) for e, p, role, s in accounts if role == "association_staff" and s == slug
    )
    worker = make_client()
    await login(worker, worker_email, worker_password)
    return {
        "rows": await rows_of(victim["id"]),
        "client": client,
        "token": await csrf_token(client, "/"),
        "worker": worker,
        "worker_token": await csrf_token(worker, "/"),
        "slug": slug,
        "routes": [r for r in tenant_routes(app) if PARAMETER.search(r.path)],
    }


DOMAINS = ["conventions", "deadlines", "documents", "households", "payments", "signing", "tenants"]


class TestRealIdsOfAnotherConsortium:
    def test_every_domain_with_tenant_routes_is_listed(self, app: Any) -> None:
        routes = [r for r in tenant_routes(app) if PARAMETER.search(r.path)]
        assert sorted({domain_of(r) for r in routes}) == DOMAINS
        unknown = {
            name
            for r in routes
            for name in PARAMETER.findall(r.path)
            if name not in PARAMETERS and name != "line_id" and name not in FIXED
        }
        assert not unknown, f"add these route parameters to PARAMETERS: {sorted(unknown)}"
        assert _starlette(app) is not None

    async def test_every_route_of_every_domain_answers_404_and_changes_nothing(
        self, attack: dict[str, Any]
    ) -> None:
        """One seeding for all domains (it takes most of the time); failures name the domain."""
        rows: Rows = attack["rows"]
        client: httpx.AsyncClient = attack["client"]
        before = await snapshot()
        tried: dict[str, int] = defaultdict(int)
        missing, wrong = [], []
        for route in attack["routes"]:
            domain = domain_of(route)
            path = rows.fill(route.path)
            if path is None:
                missing.append(f"{domain}: {route.path}")
                continue
            households = domain == "households"
            who = attack["worker"] if households else client
            token = attack["worker_token"] if households else attack["token"]
            for method in sorted((route.methods or set()) - {"HEAD"}):
                response = await who.request(
                    method,
                    f"/c/{attack['slug']}{path}",
                    data={"csrf_token": token, "confirm": "1"},
                )
                tried[domain] += 1
                if response.status_code != 404:
                    wrong.append(f"{domain}: {method} {route.path} → {response.status_code}")
        assert not missing, f"consortium A has no row for: {missing}"
        assert not wrong, "\n".join(wrong)
        assert sorted(tried) == DOMAINS, f"domains tried: {dict(tried)}"
        assert changed(before, await snapshot()) == []
