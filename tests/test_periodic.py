"""The periodic runner with one consortium's rows poisoned (written before the date range
existed, or corrupted by hand): that consortium's failing task is logged, without its data,
and retried at the next run; every other consortium and every other task still runs."""

from __future__ import annotations

import datetime as dt
import logging
from zoneinfo import ZoneInfo

import pytest

from portal.core.tenancy import TenantScope
from portal.notifications.tables import Notification
from tests.conftest import Clock, World

PARIS = ZoneInfo("Europe/Paris")
NOW = dt.datetime(2027, 3, 16, 10, 0, tzinfo=PARIS)  # 15 days before DUE: a reminder is owed
DUE = dt.date(2027, 3, 31)


@pytest.fixture(autouse=True)
async def local_storage() -> None:
    """The storage sweep is one of the tasks: it needs its folder."""
    from portal.core import storage

    await storage.get_storage().ensure_ready()


async def deadline(scope: TenantScope, world: World, title: str, due: dt.date) -> None:
    from portal.deadlines import repository

    await repository.insert(
        scope,
        {
            "title": title,
            "due_on": due,
            "organisation": None,  # the pilots are reminded
            "created_at": dt.datetime(2027, 1, 4, 10, tzinfo=PARIS),
        },
        world.tenant.pilot.id,
    )


async def quarterly_request(scope: TenantScope, world: World, title: str) -> None:
    from portal.documents import repository

    await repository.insert_request(
        scope,
        {
            "organisation": world.tenant.association_id
            if scope.consortium_id == world.tenant.id
            else world.other_tenant.association_id,
            "title": title,
            "recurrence": "quarterly",
            "starts_on": dt.date(2027, 1, 1),
            "days_after_period": 30,
        },
        world.tenant.pilot.id,
    )


async def reminders_to(user_id: object) -> list[str]:
    rows = await Notification.select(Notification.title).where(Notification.user == user_id)
    return [r["title"] for r in rows]


async def items_in(scope: TenantScope) -> list[dict[str, object]]:
    from portal.documents import service

    return await service.items_of(scope)


async def both_consortia_with_work(world: World) -> tuple[TenantScope, TenantScope]:
    """Each consortium has a deadline owing a reminder and a quarterly request owing its first
    item: what the run must do for both."""
    alpha, beta = world.tenant.scope, world.other_tenant.scope
    for scope in (alpha, beta):
        await deadline(scope, world, "Bilan intermédiaire", DUE)
        await quarterly_request(scope, world, "Rapport trimestriel")
    return alpha, beta


def assert_reminded(titles: list[str]) -> None:
    assert titles == ["Rappel : « Bilan intermédiaire » arrive à échéance le 31/03/2027"]


class TestPoisonedRows:
    async def test_a_deadline_on_31_12_9999_stops_no_reminder(
        self, world: World, clock: Clock
    ) -> None:
        from workers.schedule import periodic

        alpha, beta = await both_consortia_with_work(world)
        # Stored before dates were bounded: its reminders' dates are past year 9999.
        await deadline(alpha, world, "Échéance saisie par erreur", dt.date(9999, 12, 31))

        assert await periodic(NOW) == 0
        assert_reminded(await reminders_to(world.tenant.pilot.id))
        assert_reminded(await reminders_to(world.other_tenant.pilot.id))
        assert [i["period_label"] for i in await items_in(alpha)] == ["T1 2027"]
        assert [i["period_label"] for i in await items_in(beta)] == ["T1 2027"]

    async def test_one_consortium_failing_a_task_stops_neither_the_others_nor_other_tasks(
        self, world: World, clock: Clock, caplog: pytest.LogCaptureFixture
    ) -> None:
        from portal.core import db
        from portal.documents.tables import DocumentRequest
        from workers.schedule import periodic

        alpha, beta = await both_consortia_with_work(world)
        # A row no code could write (a recurrence that does not exist), in the consortium
        # scanned first: generating its items raises.
        await db.engine().run_ddl(
            f"UPDATE {DocumentRequest._meta.tablename} SET recurrence = 'monthly' "
            f"WHERE consortium = '{alpha.consortium_id}'"
        )
        caplog.set_level(logging.INFO)

        assert await periodic(NOW) == 1
        # The other consortium's items, and every consortium's reminders.
        assert [i["period_label"] for i in await items_in(beta)] == ["T1 2027"]
        assert await items_in(alpha) == []
        assert_reminded(await reminders_to(world.tenant.pilot.id))
        assert_reminded(await reminders_to(world.other_tenant.pilot.id))
        # Logged by task and consortium id, without what the row holds.
        failures = [r for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(failures) == 1
        line = failures[0].getMessage()
        assert "pièces périodiques" in line and str(alpha.consortium_id) in line
        assert "monthly" not in caplog.text and "Rapport trimestriel" not in caplog.text

        # Repaired: the next run does what was left.
        await db.engine().run_ddl(
            f"UPDATE {DocumentRequest._meta.tablename} SET recurrence = 'quarterly' "
            f"WHERE consortium = '{alpha.consortium_id}'"
        )
        assert await periodic(NOW + dt.timedelta(minutes=15)) == 0
        assert [i["period_label"] for i in await items_in(alpha)] == ["T1 2027"]

    async def test_a_database_error_in_one_consortium_leaves_the_shared_transaction_usable(
        self, world: World, clock: Clock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Run inside a caller's transaction, a query that fails for one consortium is rolled
        back to that consortium's savepoint: on PostgreSQL the transaction would otherwise be
        aborted, and every later query of the run refused."""
        from portal.core import db
        from portal.deadlines import service as deadlines
        from workers.schedule import periodic

        alpha, beta = await both_consortia_with_work(world)
        original = deadlines.due_items

        async def failing_for_alpha(scope: TenantScope) -> list[object]:
            if scope.consortium_id == alpha.consortium_id:
                await db.engine().run_ddl("SELECT * FROM no_such_table_e2")
            return await original(scope)  # type: ignore[return-value]

        monkeypatch.setattr(deadlines, "due_items", failing_for_alpha)
        async with db.transaction():
            assert await periodic(NOW) == 1
        assert await reminders_to(world.tenant.pilot.id) == []
        assert_reminded(await reminders_to(world.other_tenant.pilot.id))
        assert [i["period_label"] for i in await items_in(alpha)] == ["T1 2027"]
        assert [i["period_label"] for i in await items_in(beta)] == ["T1 2027"]
