"""The pathway's moves, back ones included, a re-entry after an exit (a new episode, the old
one kept), and occupancy: statuses that go back by agreement, the sub-letting renewal limit set
by the convention, a second tenancy after a failed first one."""

from __future__ import annotations

import datetime as dt
import html
import uuid
from typing import Any

import pytest

from portal.core.forms import FieldError
from tests.households.conftest import Home, orient, post, signed_convention, signed_in
from tests.households.scene import day


async def _opened(home: Home, household: uuid.UUID, who: str = "worker") -> Any:
    from portal.households import access

    opened = await access.open_household(home.ctx(who), household)
    assert opened is not None
    return opened


async def _go(home: Home, household: uuid.UUID, step: str, offset: int, **values: Any) -> None:
    from portal.households import follow_up

    await follow_up.move(
        await _opened(home, household),
        {"step": step, "on": day(offset), "reason": f"vers {step}", **values},
    )


async def _steps(home: Home, household: uuid.UUID) -> list[tuple[int, str | None, str]]:
    from portal.households import repository

    rows = await repository.transitions(home.world.tenant.scope, household)
    return [(r["episode"], r["from_step"], r["to_step"]) for r in rows]


class TestMoves:
    async def test_accompaniment_suspended_then_resumed(self, home: Home) -> None:
        household = await orient(home)
        for n, step in enumerate(("entry", "diagnostic", "accompaniment", "suspended"), 1):
            await _go(home, household, step, n)
        await _go(home, household, "accompaniment", 9)
        assert (await _steps(home, household))[-2:] == [
            (1, "accompaniment", "suspended"),
            (1, "suspended", "accompaniment"),
        ]

    async def test_a_failed_entry_is_oriented_again_in_the_same_episode(self, home: Home) -> None:
        household = await orient(home)
        await _go(home, household, "entry", 1)
        await _go(home, household, "orientation", 2, source="complex_cases")
        assert (await _steps(home, household))[-1] == (1, "entry", "orientation")

    async def test_a_household_coming_back_after_its_exit_opens_a_new_episode(
        self, home: Home, make_client: Any
    ) -> None:
        from portal.households import repository

        household = await orient(home)
        for n, step in enumerate(("entry", "diagnostic", "accompaniment"), 1):
            await _go(home, household, step, n)
        await _go(home, household, "exit", 5, exit_reason="lost_contact")
        await _go(home, household, "watch", 6)
        await _go(home, household, "orientation", 90, source="siao")
        row = await repository.household(home.world.tenant.scope, household)
        assert row is not None
        assert (row["episode"], row["step"], row["oriented_on"]) == (2, "orientation", day(90))
        assert row["exit_reason"] is None
        steps = await _steps(home, household)
        assert steps[0] == (1, None, "orientation") and steps[-1] == (2, "watch", "orientation")
        client = await signed_in(make_client, home, "worker")
        page = html.unescape((await client.get(f"{home.base}/{household}")).text)
        assert "épisode 2" in page and "Perte de contact" in page

    @pytest.mark.parametrize(
        ("step", "values", "message"),
        [
            ("accompaniment", {}, "n'est pas prévu"),
            ("exit", {}, "Choisissez le motif de sortie."),
            ("orientation", {}, "Indiquez qui oriente le ménage."),
        ],
    )
    async def test_moves_the_table_does_not_allow_are_refused(
        self, home: Home, step: str, values: dict[str, Any], message: str
    ) -> None:
        household = await orient(home)
        with pytest.raises(FieldError, match=message):
            await _go(home, household, step, 1, **values)

    async def test_through_the_page_a_refused_move_is_explained_beside_its_field(
        self, home: Home, make_client: Any
    ) -> None:
        household = await orient(home)
        client = await signed_in(make_client, home, "worker")
        response = await post(
            client,
            f"{home.base}/{household}/parcours",
            {"step": "exit", "on": "01/09/2026", "reason": ""},
        )
        assert response.status_code == 400
        page = html.unescape(response.text)
        assert "Cette date précède celle de l'étape actuelle" in page
        response = await post(
            client, f"{home.base}/{household}/parcours", {"step": "entry", "on": "10/10/2026"}
        )
        assert response.status_code == 400
        assert "Dites pourquoi, en une phrase." in html.unescape(response.text)

    async def test_only_the_association_moves_the_pathway(
        self, home: Home, make_client: Any
    ) -> None:
        household = await orient(home)
        client = await signed_in(make_client, home, "gla")
        response = await post(
            client,
            f"{home.base}/{household}/parcours",
            {"step": "entry", "on": "10/10/2026", "reason": "accord"},
        )
        assert response.status_code == 403


def _decision(offset: int) -> dict[str, Any]:
    return {"decided_by": "Commission d'attribution", "decided_on": day(offset)}


class TestOccupancy:
    async def test_statuses_may_go_back_by_agreement(self, home: Home) -> None:
        from portal.households import follow_up, repository

        household = await orient(home)
        for n, status in enumerate(("hosted", "tenant", "without_title", "tenant"), 1):
            await follow_up.occupy(
                await _opened(home, household, "gla"),
                {"status": status, "since": day(n * 30), **_decision(n * 30)},
            )
        rows = await repository.occupations(home.world.tenant.scope, household)
        assert [r["status"] for r in rows] == ["hosted", "tenant", "without_title", "tenant"]

    async def test_a_subletting_has_an_end_date(self, home: Home) -> None:
        from portal.households import follow_up

        household = await orient(home)
        with pytest.raises(FieldError, match="date de fin"):
            await follow_up.occupy(
                await _opened(home, household),
                {"status": "subletting", "since": day(1), **_decision(1)},
            )

    async def test_renewals_stop_at_the_number_the_convention_sets(
        self, home: Home, make_client: Any
    ) -> None:
        from portal.households import follow_up

        household = await orient(home)
        await follow_up.occupy(
            await _opened(home, household),
            {"status": "subletting", "since": day(1), "ends_on": day(183), **_decision(1)},
        )
        await follow_up.renew_subletting(
            await _opened(home, household), {"ends_on": day(365), **_decision(180)}
        )
        client = await signed_in(make_client, home, "gla")
        response = await post(
            client,
            f"{home.base}/{household}/logement/renouvellement",
            {"ends_on": "01/06/2028", "decided_by": "Comité", "decided_on": "01/10/2027"},
        )
        assert response.status_code == 400
        assert "La convention permet 1 renouvellement de la sous-location, déjà atteint" in (
            html.unescape(response.text)
        )

    async def test_a_convention_allowing_none_refuses_the_first_renewal(self, home: Home) -> None:
        from portal.households import follow_up

        strict = await signed_convention(
            home.world.tenant.scope,
            [(home.lessor_id, "lessor"), (home.association_id, "association")],
            renewals=0,
            reference="AVDL-STRICT",
        )
        household = await orient(home, convention=strict)
        await follow_up.occupy(
            await _opened(home, household),
            {"status": "subletting", "since": day(1), "ends_on": day(183), **_decision(1)},
        )
        with pytest.raises(FieldError, match="aucun renouvellement"):
            await follow_up.renew_subletting(
                await _opened(home, household), {"ends_on": day(365), **_decision(180)}
            )

    async def test_a_second_tenancy_after_a_failed_first_one_starts_afresh(
        self, home: Home
    ) -> None:
        from portal.households import follow_up, repository

        household = await orient(home)
        steps = [
            {"status": "subletting", "since": day(1), "ends_on": day(183)},
            {"status": "without_title", "since": day(200)},
            {"status": "subletting", "since": day(300), "ends_on": day(480)},
        ]
        for n, values in enumerate(steps):
            await follow_up.occupy(await _opened(home, household), {**values, **_decision(n)})
        await follow_up.renew_subletting(
            await _opened(home, household), {"ends_on": day(660), **_decision(470)}
        )
        rows = await repository.occupations(home.world.tenant.scope, household)
        assert [(r["status"], r["renewal"]) for r in rows] == [
            ("subletting", 0),
            ("without_title", 0),
            ("subletting", 0),
            ("subletting", 1),
        ]
        assert rows[-1]["since"] == day(480) and rows[-1]["ends_on"] == day(660)
        assert isinstance(rows[-1]["since"], dt.date)


class TestTheGrid:
    async def test_the_pilot_adapts_the_grid_and_the_synthesis_stays(
        self, home: Home, make_client: Any
    ) -> None:
        from portal.households import diagnostic

        pilot = await signed_in(make_client, home, "pilot")
        titles = {f"title-{s.code}": s.title for s in diagnostic.DEFAULT_GRID}
        response = await post(
            pilot,
            f"{home.base}/reglages/grille",
            {
                **titles,
                "title-budget": "Budget, ressources et dettes",
                "remove-health": "on",
                "remove-synthesis": "on",  # not offered; refused all the same
                "new_title": "Emploi et formation",
            },
        )
        assert response.status_code == 303
        grid = await diagnostic.grid(home.world.tenant.scope)
        assert [s.title for s in grid] == [
            "Situation administrative",
            "Budget, ressources et dettes",
            "Situation résidentielle et logement",
            "Synthèse : le projet logement",
            "Emploi et formation",
        ]
        assert [s.shareable for s in grid] == [False, False, False, True, False]
        refused = await post(pilot, f"{home.base}/reglages/grille", {"title-synthesis": ""})
        assert refused.status_code == 400
        assert "Donnez un titre à la section." in html.unescape(refused.text)

    async def test_a_worker_may_not_change_the_grid(self, home: Home, make_client: Any) -> None:
        worker = await signed_in(make_client, home, "worker")
        assert (await post(worker, f"{home.base}/reglages/grille", {})).status_code == 403


class TestReferentsAndHome:
    async def test_each_partner_names_its_referent_and_the_caseload_filters_by_it(
        self, home: Home, make_client: Any
    ) -> None:
        first = await orient(home, "Premier")
        await orient(home, "Second")
        worker = await signed_in(make_client, home, "worker")
        manager_id = str(home.manager.id)
        done = await post(worker, f"{home.base}/{first}/referent", {"referent": manager_id})
        assert done.status_code == 303
        listing = html.unescape((await worker.get(f"{home.base}?referent={manager_id}")).text)
        assert "Premier" in listing and "Second" not in listing
        gla = await signed_in(make_client, home, "gla")
        refused = await post(gla, f"{home.base}/{first}/referent", {"referent": manager_id})
        assert refused.status_code == 400
        assert "Choisissez une personne de votre organisation." in html.unescape(refused.text)
        gla_id = str(home.gla.id)
        assert (
            await post(gla, f"{home.base}/{first}/referent", {"referent": gla_id})
        ).status_code == 303
        mine = html.unescape((await gla.get(f"{home.base}?referent={gla_id}")).text)
        assert "Premier" in mine and "Second" not in mine

    async def test_once_housed_elsewhere_the_new_bailleur_sees_it_and_the_former_does_not(
        self, home: Home, make_client: Any
    ) -> None:
        household = await orient(home, "Premier", lessor=None)
        gla = await signed_in(make_client, home, "gla")
        assert (await gla.get(f"{home.base}/{household}")).status_code == 404
        worker = await signed_in(make_client, home, "worker")
        response = await post(
            worker, f"{home.base}/{household}/bailleur", {"lessor": str(home.lessor_id)}
        )
        assert response.status_code == 303
        assert (await gla.get(f"{home.base}/{household}")).status_code == 200
        refused = await post(
            worker, f"{home.base}/{household}/bailleur", {"lessor": str(home.association2_id)}
        )
        assert refused.status_code == 400
        await post(
            worker, f"{home.base}/{household}/bailleur", {"lessor": str(home.other_lessor_id)}
        )
        assert (await gla.get(f"{home.base}/{household}")).status_code == 404
