"""Reminder offsets, per-consortium adjustment, de-duplication, quiet hours and stopping,
each with a controlled clock."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import httpx
import pytest

from portal.deadlines import repository as deadlines_repository
from portal.jobs.tables import OutboxJob
from portal.notifications import service as notifications
from portal.notifications.tables import Notification
from portal.reminders import service as reminders
from portal.reminders.schedule import DEFAULT_POLICY, Policy, current_step, steps
from tests.conftest import Clock, World, csrf_token, login, run_jobs
from tests.services import SmtpServer

PARIS = ZoneInfo("Europe/Paris")
DUE = dt.date(2027, 3, 31)


def at(day: dt.date, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour), tzinfo=PARIS)


async def add_deadline(
    world: World, organisation: object, created: dt.date = dt.date(2027, 1, 4)
) -> str:
    deadline_id = await deadlines_repository.insert(
        world.tenant.scope,
        {
            "title": "Bilan intermédiaire",
            "due_on": DUE,
            "organisation": organisation,
            "created_at": at(created),
        },
        world.tenant.pilot.id,
    )
    return f"deadline:{deadline_id}"


async def titles_for(user_id: object) -> list[str]:
    rows = (
        await Notification.select(Notification.title)
        .where(Notification.user == user_id)
        .order_by(Notification.created_at)
    )
    return [r["title"] for r in rows]


class TestOffsets:
    def test_default_schedule(self) -> None:
        assert [(s.name, s.on) for s in steps(DUE, DEFAULT_POLICY)] == [
            ("before-15", dt.date(2027, 3, 16)),
            ("before-7", dt.date(2027, 3, 24)),
            ("before-1", dt.date(2027, 3, 30)),
            ("overdue-1", dt.date(2027, 4, 1)),
            ("overdue-2", dt.date(2027, 4, 8)),
            ("overdue-3", dt.date(2027, 4, 15)),
            ("overdue-4", dt.date(2027, 4, 22)),
            ("escalation", dt.date(2027, 4, 29)),
        ]

    def test_nothing_after_the_escalation(self) -> None:
        last = current_step(DUE, dt.date(2027, 1, 1), dt.date(2027, 12, 31), DEFAULT_POLICY)
        assert last is not None and last.name == "escalation"

    def test_steps_before_the_object_existed_are_not_sent(self) -> None:
        created = dt.date(2027, 3, 20)
        assert current_step(DUE, created, dt.date(2027, 3, 20), DEFAULT_POLICY) is None
        assert current_step(DUE, created, dt.date(2027, 3, 24), DEFAULT_POLICY).name == "before-7"  # type: ignore[union-attr]

    async def test_scan_follows_the_schedule_day_by_day(self, world: World, clock: Clock) -> None:
        await add_deadline(world, world.tenant.association_id)
        worker = world.tenant.association_worker.id
        day, sent_on = dt.date(2027, 3, 1), []
        while day <= dt.date(2027, 5, 31):
            if await reminders.scan(at(day)):
                sent_on.append(day)
            day += dt.timedelta(days=1)
        assert sent_on == [s.on for s in steps(DUE, DEFAULT_POLICY)]
        titles = await titles_for(worker)
        assert len(titles) == 7
        assert titles[0] == "Rappel : « Bilan intermédiaire » arrive à échéance le 31/03/2027"
        assert titles[3] == "En retard : « Bilan intermédiaire » était attendu le 31/03/2027"
        # The escalation goes to the pilot, once.
        assert await titles_for(world.tenant.pilot.id) == [
            "Escalade : « Bilan intermédiaire » est toujours en retard (échéance du 31/03/2027)"
        ]


class TestPerConsortium:
    async def test_a_consortium_adjusts_its_offsets_without_touching_others(
        self, world: World, clock: Clock
    ) -> None:
        own = Policy(
            before_days=(10, 3), overdue_first=2, overdue_every=3, overdue_max=1, escalate=False
        )
        await reminders.save_policy(world.tenant.scope, own)
        assert await reminders.policy_for(world.tenant.scope) == own
        assert await reminders.policy_for(world.other_tenant.scope) == DEFAULT_POLICY
        await add_deadline(world, world.tenant.association_id)
        assert await reminders.scan(at(dt.date(2027, 3, 16))) == 0  # default's 15 days: not here
        assert await reminders.scan(at(dt.date(2027, 3, 21))) == 1  # 10 days before
        assert await reminders.scan(at(dt.date(2027, 4, 2))) == 1  # 2 days after
        assert await reminders.scan(at(dt.date(2027, 6, 1))) == 0  # no escalation

    async def test_pilot_sets_offsets_in_the_page(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        path = f"/c/{world.tenant.slug}/echeances/rappels"
        token = await csrf_token(client, path)
        bad = await client.post(
            path,
            data={
                "csrf_token": token,
                "before_days": "dix",
                "overdue_first": "1",
                "overdue_every": "7",
                "overdue_max": "4",
            },
        )
        assert bad.status_code == 400 and 'id="f-before_days-error"' in bad.text
        ok = await client.post(
            path,
            data={
                "csrf_token": token,
                "before_days": "30, 7",
                "overdue_first": "1",
                "overdue_every": "14",
                "overdue_max": "2",
                "escalate": "on",
            },
        )
        assert ok.status_code == 303
        policy = await reminders.policy_for(world.tenant.scope)
        assert policy.before_days == (30, 7) and policy.overdue_every == 14


class TestDeduplication:
    async def test_same_day_scans_send_once_even_concurrently(
        self, world: World, clock: Clock
    ) -> None:
        await add_deadline(world, world.tenant.association_id)
        moment = at(dt.date(2027, 3, 24))
        results = await asyncio.gather(*(reminders.scan(moment) for _ in range(4)))
        assert sum(results) == 1
        assert await reminders.scan(moment + dt.timedelta(hours=5)) == 0
        assert await Notification.count() == 1


@pytest.mark.usefixtures("quiet_hours")
class TestQuietHours:
    async def test_evening_reminder_is_emailed_at_8(
        self, world: World, clock: Clock, smtp: SmtpServer
    ) -> None:
        await add_deadline(world, world.tenant.association_id)
        evening = at(dt.date(2027, 3, 24), hour=21)
        clock.at = evening
        assert await reminders.scan(evening) == 1
        await run_jobs()
        assert smtp.handler.messages == []  # held
        assert await notifications.unread_count(world.tenant.association_worker.id) == 1
        clock.at = at(dt.date(2027, 3, 25), hour=7)
        await run_jobs()
        assert smtp.handler.messages == []
        clock.at = at(dt.date(2027, 3, 25), hour=8)
        await run_jobs()
        [message] = smtp.handler.messages
        assert message["To"] == world.tenant.association_worker.email
        assert "arrive à échéance le 31/03/2027" in message["Subject"]


@pytest.mark.usefixtures("quiet_hours")
class TestStopsWhenDone:
    async def test_done_deadline_gets_no_more_reminders_and_held_mail_is_withdrawn(
        self, client: httpx.AsyncClient, world: World, clock: Clock, smtp: SmtpServer
    ) -> None:
        subject = await add_deadline(world, world.tenant.association_id)
        clock.at = at(dt.date(2027, 3, 24), hour=21)
        assert await reminders.scan(clock.at) == 1  # e-mail held until 08:00
        await login(client, world.tenant.association_worker.email)
        deadline_id = subject.split(":")[1]
        token = await csrf_token(client, f"/c/{world.tenant.slug}/echeances")
        response = await client.post(
            f"/c/{world.tenant.slug}/echeances/{deadline_id}/fait", data={"csrf_token": token}
        )
        assert response.status_code == 303
        clock.at = at(dt.date(2027, 3, 25), hour=9)
        await run_jobs()
        assert smtp.handler.messages == []
        assert await reminders.scan(at(dt.date(2027, 3, 30))) == 0
        assert await reminders.scan(at(dt.date(2027, 4, 29))) == 0


class TestDeadlinePages:
    async def test_pilot_creates_a_deadline_and_bad_dates_are_explained(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        path = f"/c/{world.tenant.slug}/echeances"
        token = await csrf_token(client, path)
        bad = await client.post(
            path, data={"csrf_token": token, "title": "Comité de pilotage", "due_on": "31/02/2027"}
        )
        assert bad.status_code == 400 and "jj/mm/aaaa" in bad.text
        ok = await client.post(
            path,
            data={
                "csrf_token": token,
                "title": "Comité de pilotage",
                "due_on": "15/06/2027",
                "organisation": str(world.tenant.lessor_id),
            },
        )
        assert ok.status_code == 303
        page = (await client.get(path)).text
        assert "15/06/2027" in page and "Comité de pilotage" in page

    async def test_only_the_responsible_organisation_or_pilot_marks_it_done(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        subject = await add_deadline(world, world.tenant.lessor_id)
        await login(client, world.tenant.association_worker.email)
        token = await csrf_token(client, f"/c/{world.tenant.slug}/echeances")
        response = await client.post(
            f"/c/{world.tenant.slug}/echeances/{subject.split(':')[1]}/fait",
            data={"csrf_token": token},
        )
        assert response.status_code == 403

    async def test_association_cannot_create_deadlines(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.association_worker.email)
        token = await csrf_token(client, f"/c/{world.tenant.slug}/echeances")
        response = await client.post(
            f"/c/{world.tenant.slug}/echeances",
            data={"csrf_token": token, "title": "X", "due_on": "01/01/2027"},
        )
        assert response.status_code == 403
        assert await OutboxJob.count() == 0

    async def test_reminder_settings_are_for_the_pilot(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.association_worker.email)
        assert (await client.get(f"/c/{world.tenant.slug}/echeances/rappels")).status_code == 403
        page = (await client.get(f"/c/{world.tenant.slug}/echeances")).text
        assert "régler les rappels" not in page
