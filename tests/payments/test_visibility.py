"""Who sees which lines: an association sees only what it is owed; the State's agent sees the
schedules of the conventions its service is party to (none when it is party to none); another
consortium sees nothing (404); only the pilot and finance record payments. Reminders go to
whoever must act."""

from __future__ import annotations

import uuid

import httpx

from tests.conventions.conftest import post
from tests.payments.conftest import (
    Money,
    create_schedule,
    lines_of,
    login,
    pay,
    schedule_form,
    subsidy,
    text_of,
)


async def setup(client: httpx.AsyncClient, money: Money) -> dict[str, uuid.UUID]:
    await login(client, money.finance.email)
    state = await subsidy(client, money)
    ids = {"subsidy": state}
    for key, association in (("alpha", money.association), ("deux", money.cast.association2_id)):
        ids[key] = await create_schedule(
            client,
            money,
            schedule_form(
                money.partnership,
                "repayment",
                beneficiary=association,
                payer=money.lessor,
                total="12 000",
                label=f"Reversements {key}",
                lines=[
                    {
                        "label": f"Avance {key}",
                        "amount": "12 000",
                        "expected_on": "01/06/2026",
                        "trigger": "date",
                    }
                ],
            ),
        )
    return ids


async def state_agent_of_no_convention(money: Money) -> uuid.UUID:
    """An agent of a State service (a DREAL) taking part in the consortium, party to nothing."""
    from portal.tenants import repository as tenants
    from tests.conftest import _member, _person

    scope = money.cast.world.tenant.scope
    dreal = await tenants.insert_organisation(
        "DREAL Auvergne-Rhône-Alpes", "13001795700017", ["state_service"], "Lyon"
    )
    await tenants.insert_participation(scope, dreal)
    agent = await _member(
        scope, await _person("agent@dreal.example.org", "Agent DREAL"), dreal, "state_agent"
    )
    return agent.id


class TestVisibility:
    async def test_an_association_sees_only_what_it_is_owed(
        self,
        client: httpx.AsyncClient,
        make_client,
        money: Money,  # type: ignore[no-untyped-def]
    ) -> None:
        ids = await setup(client, money)
        own = (await lines_of(money, ids["alpha"]))[0]
        other = (await lines_of(money, ids["deux"]))[0]
        state = (await lines_of(money, ids["subsidy"]))[0]
        worker = make_client()
        await login(worker, money.cast.world.tenant.association_worker.email)
        listing = text_of((await worker.get(money.base)).text)
        assert "Avance alpha" in listing
        assert "Avance deux" not in listing and "Avance" not in listing.replace("Avance alpha", "")
        assert (await worker.get(f"{money.base}/lignes/{own['id']}")).status_code == 200
        for path in (
            f"{money.base}/lignes/{other['id']}",
            f"{money.base}/lignes/{state['id']}",
            f"{money.base}/echeanciers/{ids['deux']}",
            f"{money.base}/echeanciers/{ids['subsidy']}",
            f"{money.base}/releves/{money.cast.association2_id}",
        ):
            assert (await worker.get(path)).status_code == 404, path
        statement = await worker.get(f"{money.base}/releves/{money.association}")
        assert statement.status_code == 200
        assert statement.headers["content-type"] == "application/pdf"
        # Reading is not acting.
        assert (await pay(worker, money, own["id"], "100")).status_code == 403
        assert (await post(worker, f"{money.base}/nouveau", {})).status_code == 403
        # Nor can it declare results on another association's line.
        declared = await post(
            worker, f"{money.base}/lignes/{other['id']}/declaration", {"quantity": "1"}
        )
        assert declared.status_code == 404

    async def test_the_state_agent_follows_the_state_fund_only(
        self,
        client: httpx.AsyncClient,
        make_client,
        money: Money,  # type: ignore[no-untyped-def]
    ) -> None:
        ids = await setup(client, money)
        agent = make_client()
        await login(agent, money.cast.state_agent.email)
        listing = text_of((await agent.get(money.base)).text)
        assert "Subvention FNAVDL 2026-2027" in listing or "Avance" in listing
        assert "CGLLS → Bailleur alpha-habitat" in listing
        assert "Avance alpha" not in listing and "Avance deux" not in listing
        line = (await lines_of(money, ids["alpha"]))[0]
        assert (await agent.get(f"{money.base}/lignes/{line['id']}")).status_code == 404

    async def test_a_state_agent_whose_service_is_party_to_no_convention_sees_no_subsidy(
        self,
        client: httpx.AsyncClient,
        make_client,
        money: Money,  # type: ignore[no-untyped-def]
    ) -> None:
        ids = await setup(client, money)
        await state_agent_of_no_convention(money)
        agent = make_client()
        await login(agent, "agent@dreal.example.org")
        listing = text_of((await agent.get(money.base)).text)
        assert "Subvention FNAVDL 2026-2027" not in listing and "CGLLS" not in listing
        assert "Avance" not in listing
        state = (await lines_of(money, ids["subsidy"]))[0]
        for path in (
            f"{money.base}/lignes/{state['id']}",
            f"{money.base}/echeanciers/{ids['subsidy']}",
        ):
            assert (await agent.get(path)).status_code == 404, path
        reconciliation = text_of((await agent.get(f"{money.base}/rapprochement")).text)
        assert "CE-2026-001" not in reconciliation and "150 000" not in reconciliation

    async def test_the_state_agent_reviews_the_report_its_subsidy_waits_for(
        self,
        client: httpx.AsyncClient,
        make_client,
        money: Money,  # type: ignore[no-untyped-def]
    ) -> None:
        await setup(client, money)  # the subsidy's second installment waits for the bilan
        pieces = f"/c/{money.slug}/pieces"
        agent = make_client()
        await login(agent, money.cast.state_agent.email)
        listing = text_of((await agent.get(pieces)).text)
        assert "Bilan intermédiaire" in listing and "Rapport d'activité" not in listing
        report = f"{pieces}/{money.interim_report}"
        assert "Examiner le dépôt" in (await agent.get(report)).text
        reviewed = await post(agent, f"{report}/revue", {"decision": "validated"})
        assert reviewed.status_code == 303
        assert (await agent.get(f"{pieces}/{money.association_report}")).status_code == 404
        # An agent of a service party to no convention sees none of it.
        await state_agent_of_no_convention(money)
        other = make_client()
        await login(other, "agent@dreal.example.org")
        assert "Bilan" not in text_of((await other.get(pieces)).text)
        assert (await other.get(f"{pieces}/{money.final_report}")).status_code == 404

    async def test_the_bailleur_staff_sees_what_its_organisation_pays_and_receives(
        self,
        client: httpx.AsyncClient,
        make_client,
        money: Money,  # type: ignore[no-untyped-def]
    ) -> None:
        await setup(client, money)
        staff = make_client()
        await login(staff, money.cast.lessor_staff.email)
        listing = text_of((await staff.get(money.base)).text)
        assert "Avance alpha" in listing and "Avance deux" in listing
        assert "CGLLS → Bailleur alpha-habitat" in listing
        assert "Nouvel échéancier" not in listing

    async def test_each_sight_lists_what_the_query_built_each_time_lists(
        self,
        client: httpx.AsyncClient,
        money: Money,
    ) -> None:
        """The unfiltered lists are built once per kind of sight (`core/prepared.py`): the
        same rows as the query built for that very sight, for each kind, in the same order."""
        from portal.payments import repository
        from portal.payments.access import Sight
        from portal.payments.repository import LineFilter

        await setup(client, money)
        scope = money.cast.world.tenant.scope
        sights = [
            Sight(everything=True),
            Sight(everything=False, organisation=money.association, beneficiary_only=True),
            Sight(everything=False, organisation=money.cast.association2_id, beneficiary_only=True),
            Sight(everything=False, organisation=money.lessor),
        ]
        counts = []
        for view in sights:
            built = await repository.lines_query(scope, view, LineFilter())
            assert await repository.lines(scope, view) == built
            schedules = await repository._schedules_query(scope, view, None)
            assert await repository.schedules(scope, view) == schedules
            counts.append((len(built), len(schedules)))
        everything, alpha, deux, lessor = counts
        assert alpha[0] and deux[0] and alpha[0] + deux[0] < everything[0]  # each its own
        assert lessor == everything  # the bailleur pays both and receives the subsidy

    async def test_another_consortium_gets_404(
        self,
        client: httpx.AsyncClient,
        make_client,
        money: Money,  # type: ignore[no-untyped-def]
    ) -> None:
        ids = await setup(client, money)
        line = (await lines_of(money, ids["alpha"]))[0]
        stranger = make_client()
        await login(stranger, money.cast.world.other_tenant.pilot.email)
        for path in (
            money.base,
            f"{money.base}/lignes/{line['id']}",
            f"{money.base}/echeanciers/{ids['alpha']}",
        ):
            assert (await stranger.get(path)).status_code == 404, path
        # Its own space does not reach them either.
        own = f"/c/{money.cast.world.other_tenant.slug}/versements"
        assert (await stranger.get(f"{own}/lignes/{line['id']}")).status_code == 404
        assert (await stranger.get(f"{own}/echeanciers/{ids['alpha']}")).status_code == 404
        assert (await pay(stranger, money, line["id"], "1")).status_code == 404


class TestReminders:
    async def test_reminders_go_to_whoever_must_act(
        self, client: httpx.AsyncClient, money: Money
    ) -> None:
        from portal.payments import service

        ids = await setup(client, money)
        dreal_agent = await state_agent_of_no_convention(money)
        advance = (await lines_of(money, ids["subsidy"]))[0]
        await post(
            client, f"{money.base}/lignes/{advance['id']}/demande", {"requested_on": "20/01/2026"}
        )
        items = {
            item.subject.split(":")[1]: item
            for item in await service.due_items(money.cast.world.tenant.scope)
        }
        # A requested subsidy: the State service must issue the payment decision (the agents
        # whose service is party to the convention, not an agent who could not open the line).
        requested = items[str(advance["id"])]
        assert money.cast.world.tenant.state_agent is not None
        assert set(requested.recipients) == {
            money.cast.state_agent.id,
            money.cast.world.tenant.state_agent.id,
        }
        assert dreal_agent not in requested.recipients
        assert requested.due_on.isoformat() == "2026-02-19"  # a month after the request
        # A reversement due: the paying bailleur's finance staff and pilots.
        repayment = (await lines_of(money, ids["alpha"]))[0]
        assert set(items[str(repayment["id"])].recipients) == {
            money.finance.id,
            money.cast.world.tenant.pilot.id,
            money.cast.second_pilot.id,
        }
        # Lines waiting for a document are reminded by the documents domain, not here.
        waiting = (await lines_of(money, ids["subsidy"]))[1]
        assert str(waiting["id"]) not in items
