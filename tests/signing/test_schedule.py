"""Time in a signature request: reminders (3 and 7 days after a step opens, then weekly, never
twice for a step), the pilot's manual reminder (once a day per person), the 10-minute code,
and the expiry date that closes the request and tells the pilot."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from tests.conftest import Clock, login, run_jobs
from tests.conventions.conftest import Cast, post
from tests.signing.conftest import (
    ceremony_post,
    events,
    frozen_convention,
    last_code,
    links_to,
    people,
    request_row,
    send_request,
    sent_in_three_steps,
    three_steps,
)

pytestmark = pytest.mark.usefixtures("base_url")


def reminders_to(smtp, email: str) -> int:  # type: ignore[no-untyped-def]
    return sum(
        1
        for m in smtp.handler.messages
        if m["To"] == email and str(m["Subject"]).startswith("Rappel :")
    )


class TestReminderKeys:
    def test_after_three_and_seven_days_then_weekly(self) -> None:
        from portal.signing.schedule import due_reminder_keys

        assert due_reminder_keys(1, 2, [3, 7]) == []
        assert due_reminder_keys(1, 3, [3, 7]) == ["s1-j3"]
        assert due_reminder_keys(2, 13, [3, 7]) == ["s2-j3", "s2-j7"]
        assert due_reminder_keys(2, 21, [3, 7]) == ["s2-j3", "s2-j7", "s2-w1", "s2-w2"]


class TestScheduledReminders:
    async def test_pending_signers_are_reminded_once_per_due_date(
        self,
        client: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
        signing_clock: Clock,
    ) -> None:
        from portal.signing import schedule

        url, _ = await sent_in_three_steps(client, cast)
        pilot, aide = cast.world.tenant.pilot.email, cast.association2_worker.email
        opened = signing_clock.at

        async def scan_at(days: float, hour: int = 10) -> None:
            signing_clock.at = (opened + dt.timedelta(days=days)).replace(hour=hour)
            await schedule.scan(signing_clock.at)
            await run_jobs()

        await scan_at(2)
        assert reminders_to(smtp, pilot) == 0
        await scan_at(3)
        assert reminders_to(smtp, pilot) == 1
        await scan_at(3.2)  # the scan runs every 15 minutes: still one
        await scan_at(5)
        assert reminders_to(smtp, pilot) == 1
        await scan_at(7)
        assert reminders_to(smtp, pilot) == 2
        await scan_at(14)
        assert reminders_to(smtp, pilot) == 3  # weekly from now on
        await scan_at(15)
        assert reminders_to(smtp, pilot) == 3
        # Only the person whose turn it is; the later steps are not reminded.
        assert reminders_to(smtp, aide) == 0
        req = await request_row(url, cast)
        assert (await events(cast, req["id"])).count("reminded") == 3

    @pytest.mark.usefixtures("quiet_hours")
    async def test_a_reminder_due_at_night_waits_for_the_morning(
        self,
        client: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
        signing_clock: Clock,
    ) -> None:
        from portal.signing import schedule

        await sent_in_three_steps(client, cast)
        pilot = cast.world.tenant.pilot.email
        signing_clock.at = (signing_clock.at + dt.timedelta(days=3)).replace(hour=22)
        await schedule.scan(signing_clock.at)
        await run_jobs()
        assert reminders_to(smtp, pilot) == 0
        signing_clock.advance(hours=10)  # 08:00 the next morning
        await run_jobs()
        assert reminders_to(smtp, pilot) == 1


class TestManualReminder:
    async def test_once_a_day_per_person(
        self,
        client: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
        signing_clock: Clock,
    ) -> None:
        url, req = await sent_in_three_steps(client, cast)
        first, second = (await people(cast, req["id"]))[:2]
        base = f"{url}/signature/{req['id']}/participants"
        assert (await post(client, f"{base}/{first['id']}/relance", {})).status_code == 303
        await run_jobs()
        assert reminders_to(smtp, first["email"]) == 1
        again = await post(client, f"{base}/{first['id']}/relance", {})
        assert again.status_code == 422 and "déjà été relancé(e) aujourd&#39;hui" in again.text
        # Someone whose step has not opened cannot be reminded.
        early = await post(client, f"{base}/{second['id']}/relance", {})
        assert early.status_code == 422 and "dont c&#39;est le tour" in early.text
        signing_clock.advance(days=1)
        await login(client, cast.world.tenant.pilot.email)  # the session lasts 12 hours
        assert (await post(client, f"{base}/{first['id']}/relance", {})).status_code == 303
        await run_jobs()
        assert reminders_to(smtp, first["email"]) == 2


class TestCodeLifetime:
    async def test_a_code_older_than_ten_minutes_is_refused(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
        signing_clock: Clock,
    ) -> None:
        url, _ = await sent_in_three_steps(client, cast)
        pilot = cast.world.tenant.pilot.email
        link = links_to(smtp, pilot)[0]
        assert (await ceremony_post(anonymous, link, "code")).status_code == 303
        code = last_code(smtp, pilot)
        # A second code at once is refused (against mail flooding).
        response = await ceremony_post(anonymous, link, "code")
        assert response.status_code == 422 and "attendez 30 secondes" in response.text
        signing_clock.advance(minutes=10, seconds=1)
        form = {"code": code, "consent": "on", "mark_kind": "typed", "mark_text": "P. Alpha"}
        response = await ceremony_post(anonymous, link, "signer", form)
        assert response.status_code == 422 and "Ce code a expiré" in response.text
        assert (await ceremony_post(anonymous, link, "code")).status_code == 303
        response = await ceremony_post(
            anonymous, link, "signer", form | {"code": last_code(smtp, pilot)}
        )
        assert response.status_code == 303
        req = await request_row(url, cast)
        assert (await people(cast, req["id"]))[0]["status"] in ("submitted", "signed")


class TestExpiry:
    async def test_expiry_closes_the_request_and_tells_the_pilot(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
        signing_clock: Clock,
    ) -> None:
        from portal.signing import schedule

        url = await frozen_convention(client, cast)
        form = three_steps(cast) | {"expires_on": "30/11/2026"}
        await send_request(client, url, form)
        await run_jobs()
        req = await request_row(url, cast)
        link = links_to(smtp, cast.world.tenant.pilot.email)[0]
        # The pilot moves the date: refused in the past, then accepted.
        response = await post(
            client, f"{url}/signature/{req['id']}/expiration", {"expires_on": "01/01/2020"}
        )
        assert response.status_code == 422 and "postérieure à aujourd&#39;hui" in response.text
        response = await post(
            client, f"{url}/signature/{req['id']}/expiration", {"expires_on": "25/11/2026"}
        )
        assert response.status_code == 303
        signing_clock.at = dt.datetime(2026, 11, 25, 23, 0, tzinfo=dt.UTC)
        await schedule.scan(signing_clock.at)
        assert (await request_row(url, cast))["status"] == "active"  # the whole last day
        signing_clock.at = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
        await schedule.scan(signing_clock.at)
        await schedule.scan(signing_clock.at)  # runs again: nothing more happens
        req = await request_row(url, cast)
        assert req["status"] == "expired"
        kinds = await events(cast, req["id"])
        assert kinds.count("expired") == 1 and kinds[-2:] == ["expiry_changed", "expired"]
        # The e-mailed link now leads nowhere.
        assert (await anonymous.get(link)).status_code == 404
        assert (await ceremony_post(anonymous, link, "code")).status_code == 404
        await login(client, cast.world.tenant.pilot.email)  # days later: a new session
        notifications = (await client.get("/notifications")).text
        assert "Demande de signature expirée" in notifications
        assert "manquent : Pilote Alpha, Aide Deux, Référente Alpha" in notifications
