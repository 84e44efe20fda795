"""Two years after the last contact, a household's identity, diagnostic, alerts, consents and
files are erased in one go; the référent is warned 30 days before; a legal hold suspends it;
a tombstone and anonymised counts remain; the scan may run twice."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from tests.conftest import Clock
from tests.households.conftest import Home, orient
from tests.households.scene import Scene, build


async def _scan(clock: Clock) -> int:
    from portal.core.scope import platform_scope
    from portal.households import service

    async with platform_scope("the test runs the retention scan"):
        return await service.apply_retention(clock.now())


async def _count(table: str, household: uuid.UUID | None = None) -> int:
    from piccolo.querystring import QueryString

    from portal.core.db import engine

    column = "id" if table == "households_household" else "household"
    where = f" WHERE {column} = {{}}" if household else ""
    args = [household] if household else []
    rows = await engine().run_querystring(
        QueryString(f"SELECT count(*) AS n FROM {table}{where}", *args)
    )
    return int(rows[0]["n"])


class TestRetention:
    async def test_warned_thirty_days_before_then_erased_with_its_files(
        self, home: Home, clock: Clock
    ) -> None:
        from portal.core.storage import get_storage
        from portal.households import repository
        from portal.notifications import service as notifications

        scene: Scene = await build(home)
        scope = home.world.tenant.scope
        [consent] = await repository.consents(scope, scene.followed)
        assert await get_storage().exists(consent["evidence_key"])
        from portal.households import reads
        from portal.households.enums import Read

        log = reads.Reads(home.ctx("worker"))
        log.add(scene.followed, "M-2026-0001", Read.IDENTITY)
        await log.flush()
        clock.advance(days=701)  # 29 days before the two years
        assert await _scan(clock) == 0
        titles = [n["title"] for n in await notifications.of_user(home.worker.id)]
        assert any(
            "Les données du ménage M-2026-0001 seront effacées le" in t and "faute de contact" in t
            for t in titles
        )
        clock.advance(days=31)
        assert await _scan(clock) == 3
        for table in (
            "households_household",
            "households_identity",
            "households_diagnostic",
            "households_consent",
            "households_transmission",
            "households_alert",
            "households_transition",
        ):
            assert await _count(table) == 0, table
        assert not await get_storage().exists(consent["evidence_key"])
        tombstones = await repository.tombstones(scope)
        assert sorted(t["pseudonym"] for t in tombstones) == [
            "M-2026-0001",
            "M-2026-0002",
            "M-2026-0003",
        ]
        assert {t["reason"] for t in tombstones} == {"Deux ans sans contact avec le ménage"}
        counts = await repository.erased_counts(scope)
        assert [(c["month"], c["step"], c["households"]) for c in counts] == [
            ("2026-10", "orientation", 3)
        ]
        assert await _count("households_read") > 0  # the read log outlives the household
        assert await _scan(clock) == 0  # idempotent

    async def test_a_contact_starts_the_period_again(self, home: Home, clock: Clock) -> None:
        from portal.households import access, follow_up

        household = await orient(home)
        clock.advance(days=700)
        opened = await access.open_household(home.ctx("worker"), household)
        assert opened is not None
        await follow_up.add_note(opened, "Appel du ménage", personal=False)
        clock.advance(days=60)
        assert await _scan(clock) == 0
        assert await _count("households_household", household) == 1

    async def test_a_legal_hold_suspends_erasure(self, home: Home, clock: Clock) -> None:
        from portal.households import access, follow_up

        household = await orient(home)
        opened = await access.open_household(home.ctx("worker"), household)
        assert opened is not None
        await follow_up.set_legal_hold(opened, True, "TJ Lyon, RG 26/01234")
        clock.advance(days=900)
        assert await _scan(clock) == 0
        assert await _count("households_identity", household) == 1
        opened = await access.open_household(home.ctx("worker"), household)
        assert opened is not None
        await follow_up.set_legal_hold(opened, False, "")
        assert await _scan(clock) == 1

    async def test_a_new_household_never_takes_an_erased_ones_pseudonym(
        self, home: Home, clock: Clock
    ) -> None:
        from portal.households import repository

        await orient(home)
        clock.advance(days=731)
        assert await _scan(clock) == 1
        household = await orient(home, oriented_on=dt.date(2026, 10, 6))
        row = await repository.household(home.world.tenant.scope, household)
        assert row is not None and row["pseudonym"] == "M-2026-0002"

    async def test_the_pilot_still_counts_erased_households(
        self, home: Home, clock: Clock, make_client: Any
    ) -> None:
        from tests.households.conftest import signed_in

        await orient(home)
        clock.advance(days=731)
        await _scan(clock)
        pilot = await signed_in(make_client, home, "pilot")
        page = (await pilot.get(f"{home.base}/registre")).text
        assert "effacées" in page and "2026-10" in page
