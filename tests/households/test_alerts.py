"""Alerts between partners: the addressee is notified without the note's text, reminded once
per step when it has not acknowledged the alert within the consortium's delay, and no longer
once it has; a suspended court procedure reminds both partners before its end."""

from __future__ import annotations

import datetime as dt
import html
import uuid
from typing import Any

import pytest

from portal.core.forms import FieldError
from tests.conftest import Clock, delivered_mails
from tests.households.conftest import Home, orient, post, signed_in

NOTE = "Trois mois de loyer impayés, le ménage ne répond plus"


async def _notifications(user_id: uuid.UUID) -> list[dict[str, Any]]:
    from portal.notifications import service

    return await service.of_user(user_id)


async def _raise(home: Home, household: uuid.UUID, today: dt.date) -> uuid.UUID:
    from portal.households import access, alerts

    opened = await access.open_household(home.ctx("gla"), household)
    assert opened is not None
    return await alerts.raise_alert(
        opened, {"kind": "unpaid_rent", "raised_on": today, "note": NOTE}
    )


async def _scan(clock: Clock) -> int:
    from portal.core.scope import platform_scope
    from portal.reminders import service

    async with platform_scope("the test runs the reminder scan"):
        return await service.scan(clock.now())


class TestRaising:
    async def test_the_association_is_notified_with_the_pseudonym_never_the_note(
        self, home: Home, clock: Clock
    ) -> None:
        household = await orient(home)
        await _raise(home, household, clock.now().date())
        for person in (home.worker, home.manager):
            [notice] = await _notifications(person.id)
            assert notice["title"] == "Alerte « Impayé de loyer » sur le ménage M-2026-0001"
            assert NOTE not in repr(notice)
        assert await _notifications(home.gla.id) == []
        for mail in await delivered_mails():
            text = mail.read_text()
            assert NOTE not in text and "Dubreuil" not in text

    async def test_a_bailleur_raises_only_the_kinds_it_may(self, home: Home, clock: Clock) -> None:
        from portal.households import access, alerts

        household = await orient(home)
        opened = await access.open_household(home.ctx("gla"), household)
        assert opened is not None
        with pytest.raises(FieldError, match="motif"):
            await alerts.raise_alert(
                opened, {"kind": "technical", "raised_on": clock.now().date(), "note": "x"}
            )

    async def test_the_worker_acknowledges_then_resolves_it_from_the_inbox(
        self, home: Home, make_client: Any, clock: Clock
    ) -> None:
        household = await orient(home)
        alert = await _raise(home, household, clock.now().date())
        client = await signed_in(make_client, home, "worker")
        inbox = html.unescape((await client.get(f"{home.base}/alertes")).text)
        assert NOTE in inbox and "En attente de prise en compte" in inbox
        from portal.notifications import service as notifications

        assert await notifications.unread_count(home.manager.id) == 1
        assert (
            await post(client, f"{home.base}/alertes/{alert}/prise-en-compte", {})
        ).status_code == 303
        # Taken into account by the organisation: its colleagues' badge clears too.
        assert await notifications.unread_count(home.manager.id) == 0
        assert await notifications.unread_count(home.worker.id) == 0
        refused = await post(client, f"{home.base}/alertes/{alert}/levee", {"resolution": ""})
        assert refused.status_code == 400
        assert "Dites comment l'alerte a été levée." in html.unescape(refused.text)
        done = await post(
            client, f"{home.base}/alertes/{alert}/levee", {"resolution": "Plan d'apurement signé"}
        )
        assert done.status_code == 303
        inbox = html.unescape((await client.get(f"{home.base}/alertes")).text)
        assert "Levée le" in inbox and "Plan d'apurement signé" in inbox

    async def test_the_sender_cannot_acknowledge_its_own_alert(
        self, home: Home, make_client: Any, clock: Clock
    ) -> None:
        household = await orient(home)
        alert = await _raise(home, household, clock.now().date())
        gla = await signed_in(make_client, home, "gla")
        response = await post(gla, f"{home.base}/alertes/{alert}/prise-en-compte", {})
        assert response.status_code == 404
        other = await signed_in(make_client, home, "worker2")
        assert (await other.get(f"{home.base}/alertes")).status_code == 200
        assert NOTE not in html.unescape((await other.get(f"{home.base}/alertes")).text)


class TestReminders:
    async def test_reminded_after_the_delay_once_per_step_until_acknowledged(
        self, home: Home, clock: Clock
    ) -> None:
        from portal.households import alerts

        household = await orient(home)
        alert = await _raise(home, household, clock.now().date())  # 23/11, delay 5 days

        def reminders(rows: list[dict[str, Any]]) -> list[str]:
            return [r["title"] for r in rows if r["kind"] == "reminder"]

        clock.advance(days=3)
        await _scan(clock)
        assert reminders(await _notifications(home.worker.id)) == []
        clock.advance(days=3)  # 29/11: the day after the delay
        await _scan(clock)
        await _scan(clock)  # the same step again: nothing more
        first = reminders(await _notifications(home.worker.id))
        assert first == [
            "En retard : « Prise en compte de l'alerte sur le ménage M-2026-0001 » était "
            "attendu le 28/11/2026"
        ]
        assert reminders(await _notifications(home.gla.id)) == []  # the sender is not reminded
        clock.advance(days=7)  # the next step
        await _scan(clock)
        assert len(reminders(await _notifications(home.worker.id))) == 2
        await alerts.acknowledge(home.ctx("worker"), alert)
        clock.advance(days=7)
        await _scan(clock)
        assert len(reminders(await _notifications(home.worker.id))) == 2

    async def test_the_delay_is_set_per_consortium(
        self, home: Home, make_client: Any, clock: Clock
    ) -> None:
        pilot = await signed_in(make_client, home, "pilot")
        refused = await post(pilot, f"{home.base}/reglages", {"alert_ack_days": "0"})
        assert refused.status_code == 400
        assert "entre 1 et 60" in html.unescape(refused.text)
        saved = await post(pilot, f"{home.base}/reglages", {"alert_ack_days": "2"})
        assert saved.status_code == 303
        household = await orient(home)
        await _raise(home, household, clock.now().date())
        clock.advance(days=3)
        await _scan(clock)
        assert any(r["kind"] == "reminder" for r in await _notifications(home.worker.id))

    async def test_a_suspended_procedure_reminds_both_partners_before_its_end(
        self, home: Home, clock: Clock
    ) -> None:
        from portal.households import access, follow_up

        household = await orient(home)
        opened = await access.open_household(home.ctx("gla"), household)
        assert opened is not None
        today = clock.now().date()
        await follow_up.suspend_procedure(
            opened, {"suspended_on": today, "suspended_until": today + dt.timedelta(days=120)}
        )
        clock.advance(days=106)  # 15 days before the end
        await _scan(clock)
        for person in (home.worker, home.gla):
            titles = [r["title"] for r in await _notifications(person.id)]
            assert titles == [
                "Rappel : « Fin de la suspension de la procédure du ménage M-2026-0001 » "
                "arrive à échéance le 23/03/2027"
            ]
