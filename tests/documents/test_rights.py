"""Rights on justificatifs inside a consortium: who may review which document (never one's own
organisation's deposit, unless the consortium allows it, and then it says so), which
justificatifs a State agent sees, and that a validated version stays."""

from __future__ import annotations

import html
import json
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest

from portal.audit import repository as audit_repository
from portal.documents.tables import DocumentItem, DocumentVersion
from tests.conftest import World, csrf_token, login
from tests.conventions.conftest import cast
from tests.documents.conftest import make_item, pdf_bytes, send, use_storage

__all__ = ["cast"]


@pytest.fixture
def local_storage() -> Iterator[None]:
    """The rules do not depend on the backend: the local folder is enough here."""
    yield from use_storage(None)


def page_text(response: httpx.Response) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text)))


async def validated_item(make_client, world: World):  # type: ignore[no-untyped-def]
    """The association deposited its report and the pilot validated it."""
    worker = make_client()
    await login(worker, world.tenant.association_worker.email)
    item_id = await make_item(world)
    assert (await send(worker, world, item_id, "r.pdf", pdf_bytes())).status_code == 303
    pilot = make_client()
    await login(pilot, world.tenant.pilot.email)
    base = f"/c/{world.tenant.slug}/pieces/{item_id}"
    token = await csrf_token(pilot, base)
    reviewed = await pilot.post(
        f"{base}/revue", data={"csrf_token": token, "decision": "validated"}
    )
    assert reviewed.status_code == 303
    return worker, pilot, item_id, base


class TestValidatedVersionStays:
    async def test_uploader_cannot_delete_a_validated_version(
        self, local_storage, make_client, world: World
    ) -> None:  # type: ignore[no-untyped-def]
        worker, _pilot, _item_id, base = await validated_item(make_client, world)
        [version] = await DocumentVersion.select()
        page = await worker.get(base)
        assert "/suppression" not in page.text  # no button that would be refused
        token = await csrf_token(worker, base)
        refused = await worker.post(
            f"{base}/versions/{version['id']}/suppression", data={"csrf_token": token}
        )
        assert refused.status_code == 409
        assert "a été validée" in page_text(refused)
        assert (await worker.get(f"{base}/versions/{version['id']}")).status_code == 200
        [item] = await DocumentItem.select(DocumentItem.status)
        assert item["status"] == "validated"
        assert await audit_repository.list_by_tag("documents:version:deleted") == []

    async def test_a_new_upload_does_not_reopen_a_validated_item(
        self, local_storage, make_client, world: World
    ) -> None:  # type: ignore[no-untyped-def]
        worker, _pilot, item_id, _base = await validated_item(make_client, world)
        refused = await send(worker, world, item_id, "r2.pdf", pdf_bytes(title="Autre"))
        assert refused.status_code == 409
        assert "a été validée" in page_text(refused)
        assert await DocumentVersion.count() == 1
        [item] = await DocumentItem.select(DocumentItem.status)
        assert item["status"] == "validated"


# A State service party to the State convention (DDETS, from the conventions' cast), another one
# party to none (DREAL); justificatifs asked for under that convention, or under none.


async def state_convention(cast) -> str:  # type: ignore[no-untyped-def]
    from tests.payments.conftest import _signed

    world = cast.world
    convention = await _signed(
        world.tenant.scope,
        "state",
        "CE-2026-001",
        [(world.tenant.lessor_id, "lead_lessor"), (cast.state_id, "state")],
    )
    return str(convention)


async def unrelated_state_agent(world: World) -> str:
    from portal.tenants import repository as tenants
    from tests.conftest import _member, _person

    scope = world.tenant.scope
    dreal = await tenants.insert_organisation(
        "DREAL Auvergne-Rhône-Alpes", "13001795700017", ["state_service"], "Lyon"
    )
    await tenants.insert_participation(scope, dreal)
    await _member(
        scope, await _person("agent@dreal.example.org", "Agent DREAL"), dreal, "state_agent"
    )
    return "agent@dreal.example.org"


async def request_document(
    pilot: httpx.AsyncClient,
    world: World,
    title: str,
    organisation: uuid.UUID,
    convention: str = "",
) -> str:
    """The pilot asks for a one-off document over HTTP; returns the item's page."""
    base = f"/c/{world.tenant.slug}/pieces"
    token = await csrf_token(pilot, base)
    response = await pilot.post(
        base,
        data={
            "csrf_token": token,
            "organisation": str(organisation),
            "title": title,
            "recurrence": "once",
            "due_on": "15/12/2026",
            "convention": convention,
        },
    )
    assert response.status_code == 303, page_text(response)[-500:]
    [item] = [
        i
        for i in await DocumentItem.select(DocumentItem.id, DocumentItem.request.title)
        if i["request.title"] == title
    ]
    return f"{base}/{item['id']}"


async def deposit(client: httpx.AsyncClient, world: World, item_page: str, title: str) -> str:
    """Uploads a PDF to the item; returns the version's address."""
    item_id = item_page.rsplit("/", 1)[1]
    assert (await send(client, world, item_id, "p.pdf", pdf_bytes(title=title))).status_code == 303
    [version] = await DocumentVersion.select(DocumentVersion.id).where(
        DocumentVersion.item == item_id
    )
    return f"{item_page}/versions/{version['id']}"


@pytest.fixture
async def justificatifs(local_storage, cast, make_client):  # type: ignore[no-untyped-def]
    """The association's report asked for under the State convention, and its invoice asked for
    under none, both deposited."""
    world = cast.world
    pilot = make_client()
    await login(pilot, world.tenant.pilot.email)
    worker = make_client()
    await login(worker, world.tenant.association_worker.email)
    convention = await state_convention(cast)
    tied = await request_document(
        pilot, world, "Rapport FNAVDL", world.tenant.association_id, convention
    )
    untied = await request_document(pilot, world, "Facture interne", world.tenant.association_id)
    return {
        "pilot": pilot,
        "worker": worker,
        "tied": tied,
        "tied_version": await deposit(worker, world, tied, "Rapport"),
        "untied": untied,
        "untied_version": await deposit(worker, world, untied, "Facture"),
    }


class TestStateAgentSight:
    async def test_an_agent_whose_service_is_party_to_no_convention_sees_no_justificatif(
        self, justificatifs, cast, make_client
    ) -> None:  # type: ignore[no-untyped-def]
        agent = make_client()
        await login(agent, await unrelated_state_agent(cast.world))
        listing = page_text(await agent.get(f"/c/{cast.slug}/pieces"))
        assert "Rapport FNAVDL" not in listing and "Facture interne" not in listing
        for key in ("tied", "tied_version", "untied", "untied_version"):
            assert (await agent.get(justificatifs[key])).status_code == 404, key

    async def test_an_agent_party_to_the_convention_sees_its_justificatifs_only(
        self, justificatifs, cast, make_client
    ) -> None:  # type: ignore[no-untyped-def]
        agent = make_client()
        await login(agent, cast.state_agent.email)
        listing = page_text(await agent.get(f"/c/{cast.slug}/pieces"))
        assert "Rapport FNAVDL" in listing and "Facture interne" not in listing
        assert (await agent.get(justificatifs["tied"])).status_code == 200
        download = await agent.get(justificatifs["tied_version"])
        assert download.status_code == 200 and download.content.startswith(b"%PDF")
        for key in ("untied", "untied_version"):
            assert (await agent.get(justificatifs[key])).status_code == 404, key


class TestListsBuiltOnce:
    async def test_each_sight_lists_what_the_query_built_each_time_lists(
        self, justificatifs, cast
    ) -> None:  # type: ignore[no-untyped-def]
        """The lists of all items and of one organisation's are built once
        (`core/prepared.py`): the same rows as the query built for that very sight."""
        import uuid

        from portal.documents import repository
        from portal.documents.repository import ALL, Sight

        world = cast.world
        scope = world.tenant.scope
        counts = []
        for view in (
            ALL,
            Sight(everything=False, organisation=world.tenant.association_id),
            Sight(everything=False, organisation=world.tenant.lessor_id),
            Sight(everything=False, organisation=uuid.uuid4()),
        ):
            built = await repository._items_query(scope, None, view)
            assert await repository.items(scope, view=view) == built
            counts.append(len(built))
        assert counts == [2, 2, 2, 0]  # the bailleur asked for both, the association owes them


async def review(
    client: httpx.AsyncClient, item_page: str, decision: str = "validated", comment: str = ""
) -> httpx.Response:
    token = await csrf_token(client, item_page)
    return await client.post(
        f"{item_page}/revue", data={"csrf_token": token, "decision": decision, "comment": comment}
    )


async def status_of(item_page: str) -> str:
    [item] = await DocumentItem.select(DocumentItem.status).where(
        DocumentItem.id == item_page.rsplit("/", 1)[1]
    )
    return str(item["status"])


class TestWhoReviews:
    async def test_the_state_agent_validates_the_documents_of_its_convention(
        self, justificatifs, cast, make_client
    ) -> None:  # type: ignore[no-untyped-def]
        agent = make_client()
        await login(agent, cast.state_agent.email)
        assert "Valider" in (await agent.get(justificatifs["tied"])).text
        assert (await review(agent, justificatifs["tied"])).status_code == 303
        assert await status_of(justificatifs["tied"]) == "validated"
        # Another document is out of its sight: 404, and nothing changes.
        assert (await review(agent, justificatifs["untied"])).status_code == 404
        assert await status_of(justificatifs["untied"]) == "submitted"

    async def test_bailleur_staff_and_an_unrelated_agent_cannot_validate(
        self, justificatifs, cast, make_client
    ) -> None:  # type: ignore[no-untyped-def]
        staff = make_client()
        await login(staff, cast.lessor_staff.email)
        assert "Examiner le dépôt" not in (await staff.get(justificatifs["untied"])).text
        assert (await review(staff, justificatifs["untied"])).status_code == 403
        agent = make_client()
        await login(agent, await unrelated_state_agent(cast.world))
        assert (await review(agent, justificatifs["tied"])).status_code == 404
        assert await status_of(justificatifs["tied"]) == "submitted"
        assert await status_of(justificatifs["untied"]) == "submitted"

    async def test_the_pilot_validates_another_organisations_document(self, justificatifs) -> None:  # type: ignore[no-untyped-def]
        assert (await review(justificatifs["pilot"], justificatifs["untied"])).status_code == 303
        assert await status_of(justificatifs["untied"]) == "validated"


class TestOwnDeposit:
    async def own_deposit(self, cast, justificatifs) -> str:  # type: ignore[no-untyped-def]
        """The pilot's own organisation (the bailleur) deposits its bilan."""
        world = cast.world
        pilot = justificatifs["pilot"]
        item = await request_document(pilot, world, "Bilan du bailleur", world.tenant.lessor_id)
        await deposit(pilot, world, item, "Bilan")
        return item

    async def test_nobody_validates_their_own_organisations_deposit(
        self, justificatifs, cast
    ) -> None:  # type: ignore[no-untyped-def]
        item = await self.own_deposit(cast, justificatifs)
        pilot = justificatifs["pilot"]
        page = await pilot.get(item)
        assert 'value="validated"' not in page.text
        assert "une autre organisation doit la valider" in page_text(page)
        refused = await review(pilot, item)
        assert refused.status_code == 400
        assert "déposée par votre organisation" in page_text(refused)
        assert await status_of(item) == "submitted"
        assert await audit_repository.list_by_tag("documents:item:reviewed") == []
        # Asking for more is still possible.
        assert (await review(pilot, item, "to_complete", "Il manque l'annexe.")).status_code == 303

    async def test_a_deposit_made_by_the_pilot_for_another_organisation_is_its_own(
        self, justificatifs, cast
    ) -> None:  # type: ignore[no-untyped-def]
        world = cast.world
        pilot = justificatifs["pilot"]
        item = await request_document(pilot, world, "Attestation", world.tenant.association_id)
        await deposit(pilot, world, item, "Attestation")
        assert (await review(pilot, item)).status_code == 400
        assert await status_of(item) == "submitted"

    async def test_when_the_settings_allow_it_the_validation_says_so(
        self, justificatifs, cast, make_client
    ) -> None:  # type: ignore[no-untyped-def]
        item = await self.own_deposit(cast, justificatifs)
        pilot = justificatifs["pilot"]
        settings = f"/c/{cast.slug}/reglages"
        staff = make_client()
        await login(staff, cast.lessor_staff.email)
        assert (await staff.get(settings)).status_code == 403
        token = await csrf_token(pilot, settings)
        saved = await pilot.post(settings, data={"csrf_token": token, "self_review_allowed": "on"})
        assert saved.status_code == 303
        assert "checked" in (await pilot.get(settings)).text
        assert "les réglages le permettent." in page_text(await pilot.get(f"/c/{cast.slug}/roles"))
        assert (await review(pilot, item)).status_code == 303
        assert await status_of(item) == "validated"
        assert "Validée par l'organisation qui l'a déposée" in page_text(await pilot.get(item))
        [event] = await audit_repository.list_by_tag("documents:item:reviewed")
        details = event["details"]
        assert (json.loads(details) if isinstance(details, str) else details)["self_review"] is True
        # Another organisation's validation is not marked.
        assert (await review(pilot, justificatifs["untied"])).status_code == 303
        assert "Validée par l'organisation" not in page_text(
            await pilot.get(justificatifs["untied"])
        )


class TestRolesPage:
    async def test_the_roles_page_states_the_review_rule(self, cast, make_client) -> None:  # type: ignore[no-untyped-def]
        worker = make_client()
        await login(worker, cast.world.tenant.association_worker.email)
        page = page_text(await worker.get(f"/c/{cast.slug}/roles"))
        assert (
            "Personne, pilote compris, ne valide une pièce déposée par sa propre organisation"
            in page
        )
        assert "les réglages ne le permettent pas." in page
