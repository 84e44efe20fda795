from __future__ import annotations

import datetime as dt
import html
from zoneinfo import ZoneInfo

import httpx
import pytest

from portal.jobs.tables import OutboxJob
from portal.notifications import service
from portal.notifications.enums import EmailMode, EmailStatus
from portal.notifications.tables import Notification
from tests.conftest import Clock, World, csrf_token, login, run_jobs
from tests.services import SmtpServer

PARIS = ZoneInfo("Europe/Paris")


def paris(day: int, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=PARIS).astimezone(dt.UTC)


@pytest.mark.usefixtures("quiet_hours")
class TestQuietHours:
    @pytest.mark.parametrize(
        ("at", "expected"),
        [
            (paris(23, 10), paris(23, 10)),
            (paris(23, 19, 59), paris(23, 19, 59)),
            (paris(23, 20), paris(24, 8)),
            (paris(23, 23, 30), paris(24, 8)),
            (paris(24, 3), paris(24, 8)),
            (paris(24, 8), paris(24, 8)),
        ],
    )
    def test_no_email_between_20_and_8_paris_time(
        self, at: dt.datetime, expected: dt.datetime
    ) -> None:
        assert service.next_sending_time(at) == expected

    def test_across_the_daylight_saving_change(self) -> None:
        # 28/03/2027 is the night clocks go forward: 08:00 is then 06:00 UTC.
        at = dt.datetime(2027, 3, 27, 21, 0, tzinfo=PARIS).astimezone(dt.UTC)
        assert service.next_sending_time(at) == dt.datetime(2027, 3, 28, 6, 0, tzinfo=dt.UTC)

    async def test_evening_notification_is_in_the_portal_now_and_emailed_at_8(
        self, world: World
    ) -> None:
        user = world.tenant.pilot.id
        [notification_id] = await service.notify(
            [user], kind="test", title="Rappel", at=paris(23, 21)
        )
        [job] = await OutboxJob.select()
        assert job["run_after"] == paris(24, 8)
        assert await service.unread_count(user) == 1
        first = await Notification.select().first()
        assert first is not None and first["id"] == notification_id


@pytest.mark.usefixtures("clock")
class TestEmails:
    async def test_immediate_email_carries_one_click_unsubscribe(
        self, world: World, smtp: SmtpServer
    ) -> None:
        await service.notify(
            [world.tenant.pilot.id], kind="test", title="Nouvelle pièce déposée", link="/c/x/"
        )
        await run_jobs()
        [message] = smtp.handler.messages
        assert message["Subject"] == "Nouvelle pièce déposée"
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message["List-Unsubscribe"].startswith("<http://testserver/desabonnement/")
        await run_jobs()
        assert len(smtp.handler.messages) == 1

    async def test_withdrawn_notification_is_not_emailed(
        self, world: World, smtp: SmtpServer
    ) -> None:
        await service.notify(
            [world.tenant.pilot.id], kind="test", title="Rappel", subject="deadline:1"
        )
        assert await service.withdraw("deadline:1") == 1
        await run_jobs()
        assert smtp.handler.messages == []

    async def test_daily_digest_once_a_day_from_8(
        self,
        world: World,
        smtp: SmtpServer,
        clock: Clock,
    ) -> None:
        user = world.tenant.pilot.id
        await service.save_preference(user, EmailMode.DIGEST, False)
        await service.notify([user], kind="test", title="Premier")
        await service.notify([user], kind="test", title="Second")
        await run_jobs()
        assert smtp.handler.messages == []
        assert await service.schedule_digests(paris(24, 7, 59)) == 0
        assert await service.schedule_digests(paris(24, 8)) == 1
        assert await service.schedule_digests(paris(24, 9)) == 1  # asked again: same job
        assert await OutboxJob.count() == 1
        await run_jobs()
        [message] = smtp.handler.messages
        assert "2 notifications" in message["Subject"]
        body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "Premier" in body and "Second" in body
        statuses = {r["email_status"] for r in await Notification.select(Notification.email_status)}
        assert statuses == {EmailStatus.SENT}

    async def test_unsubscribed_person_gets_no_email_but_sees_the_notification(
        self,
        world: World,
        smtp: SmtpServer,
    ) -> None:
        user = world.tenant.pilot.id
        await service.save_preference(user, EmailMode.IMMEDIATE, True)
        await service.notify([user], kind="test", title="Rappel")
        await run_jobs()
        assert smtp.handler.messages == []
        assert await service.unread_count(user) == 1


class TestUnsubscribeLink:
    async def test_one_click_post_needs_no_csrf_token(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        token = service.unsubscribe_token(world.tenant.pilot.id)
        response = await client.post(
            f"/desabonnement/{token}", data={"List-Unsubscribe": "One-Click"}
        )
        assert response.status_code == 200
        assert "C'est fait" in html.unescape(response.text)
        assert (await service.preference(world.tenant.pilot.id)).unsubscribed

    async def test_forged_token_is_404(self, client: httpx.AsyncClient, world: World) -> None:
        assert (await client.post("/desabonnement/abc", data={})).status_code == 404


class TestNotificationCentre:
    async def test_unread_count_open_and_mark_all(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        user = world.tenant.pilot.id
        [first, _] = [
            (await service.notify([user], kind="test", title=t, link=f"/c/{world.tenant.slug}/"))[0]
            for t in ("Un", "Deux")
        ]
        await login(client, world.tenant.pilot.email)
        page = (await client.get("/notifications")).text
        assert ">2<" in page.replace(" ", "") or "2<span" in page
        response = await client.get(f"/notifications/{first}")
        assert (
            response.status_code == 303
            and response.headers["location"] == f"/c/{world.tenant.slug}/"
        )
        assert await service.unread_count(user) == 1
        token = await csrf_token(client, "/notifications")
        await client.post("/notifications/tout-lu", data={"csrf_token": token})
        assert await service.unread_count(user) == 0

    async def test_someone_else_s_notification_is_404(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        [notification_id] = await service.notify(
            [world.tenant.pilot.id], kind="test", title="Privé"
        )
        await login(client, world.other_tenant.pilot.email)
        assert (await client.get(f"/notifications/{notification_id}")).status_code == 404
        assert "Privé" not in (await client.get("/notifications")).text

    async def test_anonymous_is_sent_to_login(self, client: httpx.AsyncClient) -> None:
        for path in ("/notifications", "/compte/notifications"):
            assert (await client.get(path)).status_code == 303

    async def test_preferences_form(self, client: httpx.AsyncClient, world: World) -> None:
        await login(client, world.tenant.pilot.email)
        token = await csrf_token(client, "/compte/notifications")
        response = await client.post(
            "/compte/notifications", data={"csrf_token": token, "email_mode": "digest"}
        )
        assert response.status_code == 303
        assert (await service.preference(world.tenant.pilot.id)).email_mode == EmailMode.DIGEST
        bad = await client.post(
            "/compte/notifications", data={"csrf_token": token, "email_mode": "jamais"}
        )
        assert bad.status_code == 400
