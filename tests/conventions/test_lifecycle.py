"""The lifecycle of a convention: allowed and refused transitions, freezing (balance rule,
immutable version, PDF stored once), signature, dates, avenants, renewals and the 48-month cap."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid

import httpx
import pytest

from portal.core import clock as portal_clock
from tests.conftest import login
from tests.conventions.conftest import (
    Cast,
    article_ids,
    convention_row,
    create,
    make_ready_to_freeze,
    post,
    set_status,
)


async def _frozen(client: httpx.AsyncClient, cast: Cast) -> str:
    await login(client, cast.world.tenant.pilot.email)
    url = await create(client, cast)
    await make_ready_to_freeze(client, url, cast)
    assert (await set_status(client, url, "review")).status_code == 303
    response = await set_status(client, url, "ready")
    assert response.status_code == 303, response.text
    return url


async def _sign(url: str, cast: Cast) -> None:
    from portal.conventions import repository, service

    scope = cast.world.tenant.scope
    convention_id = uuid.UUID(url.rsplit("/", 1)[1])
    latest = (await repository.versions(scope, convention_id))[0]
    await service.mark_signed(scope, convention_id, latest["id"], dt.datetime.now(dt.UTC))


class TestCreation:
    async def test_default_model_fills_parties_articles_and_variables(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast)
        page = (await client.get(url)).text
        assert "Brouillon" in page
        assert "Bailleur porteur du projet" in page and "Bailleur alpha-habitat" in page
        assert "Association Deux" in page  # every association of the consortium is a party
        parties = page.split('id="parties"')[1].split("</table>")[0]
        assert "DDETS du Rhône" not in parties
        # In signing order: the carrying bailleur first, then the associations.
        assert parties.index("Bailleur alpha-habitat") < parties.index("Association Deux")
        assert len(await article_ids(client, url)) == 12
        # Variables come from the data, not typed twice.
        assert (
            "entre Bailleur alpha-habitat, d'une part, et Association Deux et "
            "Association alpha-habitat, d'autre part" in page
        )
        assert "{{" not in page.split('id="articles"')[1].split("Ajouter un article")[0]
        row = await convention_row(url)
        assert row["reference"] == f"CP-{dt.date.today().year}-001"

    async def test_state_convention_binds_the_carrier_and_the_state(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast, "state")
        parties = (await client.get(url)).text.split('id="parties"')[1].split("</table>")[0]
        assert "DDETS du Rhône" in parties and "Service de l&#39;État" in parties
        assert "Association alpha-habitat" not in parties and "Association Deux" not in parties
        assert "Montant et modalités de versement de la subvention" in (await client.get(url)).text

    async def test_bad_input_is_refused_next_to_the_field(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        response = await post(client, cast.base, {"kind": "treaty", "title": "X"})
        assert response.status_code == 400
        assert "Choisissez le type de convention." in response.text
        url = await create(client, cast)
        response = await post(
            client,
            f"{url}/informations",
            {
                "title": "Titre",
                "starts_on": "31/02/2027",
                "duration_months": "36",
                "households_target": "-4",
                "unit_gla_cents": "12,345",
                "revision": "1",
            },
        )
        assert response.status_code == 400
        for message in (
            "Indiquez la date de début au format jj/mm/aaaa.",
            "La durée est de 12 ou 24 mois.",
            "Indiquez le nombre de ménages par un nombre entier positif.",
            "Montant non reconnu : écrivez par exemple 1 234,56 (deux décimales au plus).",
        ):
            assert message in response.text
        assert (await convention_row(url))["title"] == "Convention partnership test"


class TestTransitions:
    async def test_a_draft_cannot_be_frozen_or_signed_directly(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast)
        await make_ready_to_freeze(client, url, cast)
        response = await set_status(client, url, "ready")
        assert response.status_code == 409
        assert "Soumettez d&#39;abord la convention en relecture" in response.text
        response = await set_status(client, url, "signed")
        assert response.status_code == 409
        assert "circuit de signature" in response.text
        assert (await convention_row(url))["status"] == "draft"

    async def test_review_takes_a_version_and_can_go_back_to_draft(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast)
        response = await set_status(client, url, "review")
        assert response.status_code == 303
        page = (await client.get(url)).text
        assert "soumise en relecture (version 1)" in page
        assert "Version 1 de relecture" in page
        assert (await set_status(client, url, "draft")).status_code == 303
        assert (await convention_row(url))["status"] == "draft"

    async def test_unbalanced_plan_cannot_be_frozen_and_the_gap_is_told(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast)
        await make_ready_to_freeze(client, url, cast)
        await post(
            client,
            f"{url}/budget/lignes",
            {
                "side": "expense",
                "category": "works",
                "label": "Petits travaux",
                "amount": "1 234,56",
            },
        )
        await set_status(client, url, "review")
        response = await set_status(client, url, "ready")
        assert response.status_code == 409
        assert "Il manque 1\u202f234,56\xa0€ de ressources" in response.text
        assert (await convention_row(url))["status"] == "review"
        # One more resource than needed: the other side is named.
        await post(
            client,
            f"{url}/budget/lignes",
            {
                "side": "resource",
                "category": "caf",
                "label": "CAF",
                "amount": "2 000",
            },
        )
        budget = (await client.get(f"{url}/budget")).text
        assert "Les ressources dépassent les dépenses de 765,44\xa0€" in budget

    async def test_freeze_renders_the_pdf_once_and_locks_the_content(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        from portal.conventions import repository

        url = await _frozen(client, cast)
        row = await convention_row(url)
        assert row["status"] == "ready"
        versions = await repository.versions(cast.world.tenant.scope, row["id"])
        frozen = versions[0]
        assert frozen["number"] == 2 and frozen["frozen"] and len(frozen["content_sha256"]) == 64
        first = await client.get(f"{url}/versions/2.pdf")
        second = await client.get(f"{url}/versions/2.pdf")
        assert first.status_code == 200 and first.content.startswith(b"%PDF")
        assert hashlib.sha256(first.content).hexdigest() == frozen["pdf_sha256"]
        assert first.content == second.content  # stored bytes, never re-rendered
        # Nothing changes any more: article, budget, parties, status back to draft.
        article = (await article_ids(client, url))[0]
        response = await post(
            client,
            f"{url}/articles/{article}",
            {
                "title": "Objet",
                "body": "Texte changé",
                "revision": "1",
            },
        )
        assert response.status_code == 400
        assert "n&#39;est plus modifiable" in response.text
        response = await post(
            client,
            f"{url}/budget/lignes",
            {
                "side": "expense",
                "category": "gla",
                "label": "GLA",
                "amount": "1",
            },
        )
        assert response.status_code == 400
        assert (await set_status(client, url, "draft")).status_code == 409

    async def test_reopening_keeps_the_frozen_version(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        url = await _frozen(client, cast)
        before = await client.get(f"{url}/versions/2.pdf")
        assert (await set_status(client, url, "review")).status_code == 303
        article = (await article_ids(client, url))[0]
        response = await post(
            client,
            f"{url}/articles/{article}",
            {
                "title": "Objet de la convention",
                "body": "Nouveau texte",
                "revision": "1",
            },
        )
        assert response.status_code == 303
        assert (await client.get(f"{url}/versions/2.pdf")).content == before.content

    @pytest.mark.postgres_only
    async def test_database_refuses_to_change_a_version(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        from piccolo.engine import engine_finder

        await _frozen(client, cast)
        engine = engine_finder()
        assert engine is not None
        with pytest.raises(Exception, match="immutable"):
            await engine.run_ddl("UPDATE conventions_version SET pdf_sha256 = 'x'")


class TestSignedConventions:
    async def test_signature_then_in_force_then_expired(
        self, client: httpx.AsyncClient, cast: Cast, monkeypatch: pytest.MonkeyPatch
    ) -> None:

        url = await _frozen(client, cast)
        await _sign(url, cast)
        for day, label in (
            (dt.date(2026, 12, 31), "Signée"),
            (dt.date(2027, 1, 1), "En vigueur"),
            (dt.date(2028, 12, 31), "En vigueur"),
            (dt.date(2029, 1, 1), "Échue"),
        ):
            monkeypatch.setattr(portal_clock, "today", lambda day=day: day)
            assert (
                f'status--{"open" if label == "Échue" else "done"}">{label}'
                in (await client.get(url)).text
            ), (day, label)

    async def test_only_a_ready_convention_can_be_signed(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        from portal.core.forms import FieldError

        url = await _frozen(client, cast)
        await set_status(client, url, "review")
        with pytest.raises(FieldError, match="prête à signer"):
            await _sign(url, cast)

    async def test_amendment_is_a_new_draft_linked_to_the_signed_version(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        url = await _frozen(client, cast)
        await _sign(url, cast)
        response = await post(client, f"{url}/avenant", {})
        assert response.status_code == 303
        amendment = response.headers["location"]
        row, parent = await convention_row(amendment), await convention_row(url)
        assert row["origin"] == "amendment" and row["status"] == "draft"
        assert row["parent"] == parent["id"] and row["parent_version"] == parent["signed_version"]
        assert str(row["reference"]).endswith("-A1")
        page = (await client.get(amendment)).text
        assert "Avenant n° 1" in page and "Avenant de" in page
        # A second one while the first is open is refused with its name.
        response = await post(client, f"{url}/avenant", {})
        assert response.status_code == 409 and "est déjà en préparation" in response.text
        # Changes are shown against the signed version.
        article = (await article_ids(client, amendment))[0]
        await post(
            client,
            f"{amendment}/articles/{article}",
            {
                "title": "Objet de la convention",
                "body": "Objet modifié par avenant.",
                "revision": "1",
            },
        )
        diff = (await client.get(f"{amendment}/comparaison?de=signee&a=courant")).text
        assert "<ins>Objet modifié par avenant.</ins>" in diff and "<del>La présente" in diff

    async def test_renewals_stop_at_48_months(self, client: httpx.AsyncClient, cast: Cast) -> None:
        url = await _frozen(client, cast)  # 24 months from 01/01/2027
        await _sign(url, cast)
        response = await post(client, f"{url}/renouvellement", {"duration_months": "24"})
        assert response.status_code == 303
        renewal = response.headers["location"]
        row = await convention_row(renewal)
        assert row["starts_on"] == dt.date(2029, 1, 1) and row["months_before"] == 24
        await make_ready_to_freeze(client, renewal, cast, starts_on="01/01/2029")
        # make_ready_to_freeze sets 24 months again: 48 in all, accepted.
        assert (await set_status(client, renewal, "review")).status_code == 303
        assert (await set_status(client, renewal, "ready")).status_code == 303
        await _sign(renewal, cast)
        response = await post(client, f"{renewal}/renouvellement", {"duration_months": "12"})
        assert response.status_code == 409
        assert "porterait la durée totale du projet à 60 mois" in response.text
        assert "limite à 48 mois" in response.text

    async def test_a_renewal_cannot_stretch_its_duration_past_the_cap(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        url = await _frozen(client, cast)
        await _sign(url, cast)
        # 24 + 12 renewal; then trying to edit the renewal to 24 is fine (48), not beyond.
        renewal = (await post(client, f"{url}/renouvellement", {"duration_months": "12"})).headers[
            "location"
        ]
        row = await convention_row(renewal)
        assert row["duration_months"] == 12 and row["months_before"] == 24


class TestDurationRule:
    @pytest.mark.parametrize(
        ("months", "before", "ok"),
        [
            (12, 0, True),
            (24, 0, True),
            (18, 0, False),
            (24, 24, True),
            (12, 36, True),
            (24, 36, False),
            (12, 48, False),
        ],
    )
    def test_cap(self, months: int, before: int, ok: bool) -> None:
        from portal.conventions.lifecycle import check_duration
        from portal.core.forms import FieldError

        if ok:
            check_duration(months, before, renewal=before > 0)
        else:
            with pytest.raises(FieldError):
                check_duration(months, before, renewal=before > 0)

    def test_end_date_of_a_month_end_start(self) -> None:
        from portal.conventions.lifecycle import ends_on

        assert ends_on({"starts_on": dt.date(2027, 1, 31), "duration_months": 12}) == dt.date(
            2028, 1, 30
        )
        assert ends_on({"starts_on": dt.date(2027, 1, 1), "duration_months": 24}) == dt.date(
            2028, 12, 31
        )
