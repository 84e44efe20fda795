"""The demo's households: about 30 in the first consortium, on varied paths."""

from __future__ import annotations

from collections import Counter
from typing import Any

from tests.conftest import _scope_of


async def test_the_demo_covers_every_path_the_issue_lists() -> None:
    from piccolo.querystring import QueryString

    from portal import demo
    from portal.core.db import engine
    from portal.households import repository
    from portal.households.enums import Occupancy, Step
    from portal.tenants import repository as tenants

    await demo.load()
    consortium = await tenants.consortium_by_slug(demo.CONSORTIA[0].slug)
    assert consortium is not None
    scope = _scope_of(consortium["id"])
    rows = await repository.listing(
        scope, association=None, lessor=None, filters={}, limit=100, offset=0
    )
    assert len(rows) == 30
    assert set(Counter(r["step"] for r in rows)) == set(Step)
    assert {r["occupancy"] for r in rows} >= set(Occupancy)
    assert any(r["episode"] > 1 for r in rows)  # a re-entry

    async def rows_of(sql: str) -> list[dict[str, Any]]:
        return [dict(r) for r in await engine().run_querystring(QueryString(sql))]

    states = {r["state"] for r in await rows_of("SELECT state FROM households_consent")}
    assert states == {"given", "refused", "withdrawn"}
    alerts = await rows_of("SELECT acknowledged_at FROM households_alert")
    assert any(a["acknowledged_at"] is None for a in alerts)
    assert any(a["acknowledged_at"] is not None for a in alerts)
    assert len(await rows_of("SELECT id FROM households_transmission")) >= 2
    [tombstone] = await repository.tombstones(scope)
    assert tombstone["reason"] == "Deux ans sans contact avec le ménage"
    assert await repository.erased_counts(scope)
    await demo.load()  # idempotent
    assert await repository.listing_count(scope, association=None, lessor=None, filters={}) == 30
