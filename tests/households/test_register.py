"""A household enters the register under a pseudonym; its identity is sealed, searched by a
keyed hash, and shown only in its own file."""

from __future__ import annotations

import html
from typing import Any

import pytest

from tests.households.conftest import Home, orient, post, signed_in


class TestOrientation:
    async def test_a_worker_orients_a_household_and_its_file_opens(
        self, home: Home, make_client: Any
    ) -> None:
        client = await signed_in(make_client, home, "worker")
        page = await client.get(f"{home.base}/nouveau")
        assert page.status_code == 200
        response = await post(
            client,
            f"{home.base}/nouveau",
            {
                "convention": str(home.convention_id),
                "source": "dalo",
                "oriented_on": "05/10/2026",
                "motive": "Reconnu prioritaire DALO",
                "last_name": "Ferreira",
                "first_name": "Ana",
                "adults": "2",
                "children": "1",
                "lessor": str(home.lessor_id),
            },
        )
        assert response.status_code == 303, response.text
        file = await client.get(response.headers["location"])
        assert file.status_code == 200
        assert "M-2026-0001" in file.text
        assert "Ferreira" in file.text
        assert "Reconnu prioritaire DALO" in file.text

    async def test_bad_input_is_explained_beside_each_field(
        self, home: Home, make_client: Any
    ) -> None:
        client = await signed_in(make_client, home, "worker")
        response = await post(
            client,
            f"{home.base}/nouveau",
            {"oriented_on": "31/02/2026", "adults": "0", "source": "nobody"},
        )
        assert response.status_code == 400
        for message in (
            "Indiquez le nom de la personne de référence.",
            "Choisissez la convention du projet.",
            "Indiquez qui oriente le ménage.",
            "Indiquez la date au format jj/mm/aaaa",
            "Nombre d'adultes : de 1 à 20.",
            "Indiquez le motif de l'orientation.",
        ):
            assert message in html.unescape(response.text)

    async def test_a_convention_the_association_is_not_party_to_is_refused(
        self, home: Home, make_client: Any
    ) -> None:
        from tests.households.conftest import signed_convention

        other = await signed_convention(
            home.world.tenant.scope, [(home.lessor_id, "lessor")], reference="AUTRE-1"
        )
        client = await signed_in(make_client, home, "worker")
        response = await post(
            client,
            f"{home.base}/nouveau",
            {
                "convention": str(other),
                "source": "siao",
                "oriented_on": "05/10/2026",
                "motive": "Sortie d'hébergement",
                "last_name": "Martin",
            },
        )
        assert response.status_code == 400
        assert "Choisissez une convention de votre association." in response.text

    async def test_only_association_staff_orient(self, home: Home, make_client: Any) -> None:
        for who in ("gla", "pilot", "state_agent"):
            client = await signed_in(make_client, home, who)
            assert (await client.get(f"{home.base}/nouveau")).status_code == 403

    async def test_pseudonyms_follow_each_other_within_the_year(self, home: Home) -> None:
        from portal.households import repository

        first = await orient(home, "Un")
        second = await orient(home, "Deux")
        rows = [await repository.household(home.world.tenant.scope, i) for i in (first, second)]
        assert [r["pseudonym"] for r in rows if r] == ["M-2026-0001", "M-2026-0002"]


class TestSealedIdentity:
    async def test_the_database_holds_no_name_in_clear(self, home: Home) -> None:
        from piccolo.querystring import QueryString

        from portal.core.db import engine

        await orient(home, "Vandenbroucke", first_name="Maëlys")
        rows = await engine().run_querystring(
            QueryString("SELECT sealed, name_hash FROM households_identity")
        )
        assert rows
        dumped = repr(rows)
        assert "Vandenbroucke" not in dumped and "Maëlys" not in dumped
        transitions = await engine().run_querystring(
            QueryString("SELECT sealed_reason FROM households_transition")
        )
        assert "séparation" not in repr(transitions)

    async def test_a_sealed_value_moved_to_another_household_does_not_open(
        self, home: Home
    ) -> None:
        from portal.households import repository, sealing

        first = await orient(home, "Premier")
        second = await orient(home, "Second")
        scope = home.world.tenant.scope
        stolen = (await repository.identities(scope, [first]))[first]
        sealer = await sealing.sealer(scope)
        with pytest.raises(sealing.Unreadable):
            sealer.open_json(second, "identity", stolen)

    @pytest.mark.parametrize("typed", ["dubreuil", "DUBREUIL", "Dubreuil ", "Dübreuil"])
    async def test_search_by_name_finds_the_household_however_it_is_typed(
        self, home: Home, make_client: Any, typed: str
    ) -> None:
        await orient(home, "Dubreuil")
        await orient(home, "Lemoine")
        client = await signed_in(make_client, home, "worker")
        response = await post(client, home.base, {"name": typed})
        assert response.status_code == 200
        assert "Dubreuil" in response.text
        assert "Lemoine" not in response.text

    async def test_the_search_is_a_post_so_the_name_never_reaches_an_address(
        self, home: Home, make_client: Any
    ) -> None:
        client = await signed_in(make_client, home, "worker")
        response = await client.get(f"{home.base}?nom=Dubreuil&name=Dubreuil")
        assert response.status_code == 200
        assert 'method="post" action="/c/alpha-habitat/menages"' in response.text


class TestNotes:
    async def test_a_personal_note_is_seen_by_its_author_only(
        self, home: Home, make_client: Any
    ) -> None:
        household = await orient(home)
        worker = await signed_in(make_client, home, "worker")
        for body, personal in (("Note partagée du suivi", ""), ("Mon aide-mémoire", "on")):
            response = await post(
                worker, f"{home.base}/{household}/notes", {"note": body, "personal": personal}
            )
            assert response.status_code == 303
        mine = html.unescape((await worker.get(f"{home.base}/{household}")).text)
        assert "Note partagée du suivi" in mine and "Mon aide-mémoire" in mine
        manager = await signed_in(make_client, home, "manager")
        theirs = html.unescape((await manager.get(f"{home.base}/{household}")).text)
        assert "Note partagée du suivi" in theirs and "Mon aide-mémoire" not in theirs
        gla = await signed_in(make_client, home, "gla")
        housing = html.unescape((await gla.get(f"{home.base}/{household}")).text)
        assert "Note partagée du suivi" not in housing
