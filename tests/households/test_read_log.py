"""Every read of a household's identity, diagnostic section, alert text or justificatif leaves
exactly one append-only row: who, organisation, role, pseudonym, what, the consent used."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import DATABASE_URL, ON_POSTGRES
from tests.households.conftest import Home, orient, signed_in
from tests.households.scene import Scene, build


async def _log(home: Home, household: uuid.UUID | None = None) -> list[tuple[str, str, str]]:
    from piccolo.querystring import QueryString

    from portal.core.db import engine

    rows = await engine().run_querystring(
        QueryString("SELECT household, reader, what, detail, role, pseudonym FROM households_read")
    )
    names = {p.id: k for k, p in home.people.items()}
    return sorted(
        (names[uuid.UUID(str(r["reader"]))], r["what"], r["detail"])
        for r in rows
        if household is None or uuid.UUID(str(r["household"])) == household
    )


@pytest.fixture
async def scene(home: Home) -> Scene:
    return await build(home)


class TestOneRowPerRead:
    async def test_opening_a_file_reads_its_identity_once(
        self, home: Home, scene: Scene, make_client: Any
    ) -> None:
        client = await signed_in(make_client, home, "worker")
        assert (await client.get(f"{home.base}/{scene.followed}")).status_code == 200
        assert await _log(home) == [("worker", "identity", "")]

    async def test_the_diagnostic_tab_reads_each_written_section_once(
        self, home: Home, scene: Scene, make_client: Any
    ) -> None:
        client = await signed_in(make_client, home, "worker")
        await client.get(f"{home.base}/{scene.followed}/diagnostic")
        assert await _log(home) == [
            ("worker", "identity", ""),
            ("worker", "section", "health"),
            ("worker", "section", "synthesis"),
        ]

    async def test_the_caseload_reads_each_name_it_shows_once(
        self, home: Home, scene: Scene, make_client: Any
    ) -> None:
        client = await signed_in(make_client, home, "worker")
        await client.get(home.base)
        assert await _log(home) == [("worker", "identity", ""), ("worker", "identity", "")]

    async def test_the_bailleur_reading_the_synthesis_names_the_consent_it_relied_on(
        self, home: Home, scene: Scene, make_client: Any
    ) -> None:
        from portal.households import repository

        client = await signed_in(make_client, home, "gla")
        await client.get(f"{home.base}/{scene.followed}/diagnostic")
        assert await _log(home) == [
            ("gla", "identity", ""),
            ("gla", "shared_synthesis", "synthesis"),
        ]
        [shared] = [
            r
            for r in await repository.reads_of(home.world.tenant.scope, scene.followed)
            if r["what"] == "shared_synthesis"
        ]
        assert shared["consent"] == scene.consent
        assert (shared["role"], shared["pseudonym"]) == ("lessor_staff", "M-2026-0001")
        assert shared["organisation"] == home.lessor_id

    async def test_alerts_and_the_signed_authorisation_are_reads_too(
        self, home: Home, scene: Scene, make_client: Any
    ) -> None:
        client = await signed_in(make_client, home, "worker")
        await client.get(f"{home.base}/{scene.followed}/alertes")
        download = f"{home.base}/{scene.followed}/consentements/{scene.consent}/autorisation"
        assert (await client.get(download)).status_code == 200
        assert await _log(home) == [
            ("worker", "alert", str(scene.alert)),
            ("worker", "evidence", str(scene.consent)),
            ("worker", "identity", ""),
        ]

    async def test_pages_showing_nothing_of_a_household_log_nothing(
        self, home: Home, scene: Scene, make_client: Any
    ) -> None:
        for who in ("state_agent", "read_only"):
            client = await signed_in(make_client, home, who)
            await client.get(f"{home.base}/registre")
            await client.get(f"{home.base}/{scene.followed}")
        pilot = await signed_in(make_client, home, "pilot")
        await pilot.get(f"{home.base}/{scene.elsewhere}")  # not its home: no name shown
        assert await _log(home) == []


class TestTheManagersView:
    async def test_the_manager_sees_and_exports_a_households_log(
        self, home: Home, scene: Scene, make_client: Any
    ) -> None:
        worker = await signed_in(make_client, home, "worker")
        await worker.get(f"{home.base}/{scene.followed}")
        assert (await worker.get(f"{home.base}/{scene.followed}/journal")).status_code == 403
        assert (await worker.get(f"{home.base}/{scene.followed}/journal.csv")).status_code == 403
        manager = await signed_in(make_client, home, "manager")
        page = await manager.get(f"{home.base}/{scene.followed}/journal")
        assert page.status_code == 200 and "Référente alpha-habitat" in page.text
        export = await manager.get(f"{home.base}/{scene.followed}/journal.csv")
        assert export.status_code == 200
        assert export.headers["content-type"].startswith("text/csv")
        lines = export.text.lstrip("\ufeff").splitlines()
        assert lines[0].startswith("Date et heure;Personne;Organisation;Rôle;Ce qui a été lu")
        assert any("Référente alpha-habitat" in line and "Identité" in line for line in lines)
        assert "M-2026-0001" in export.headers["content-disposition"]
        assert "Dubreuil" not in export.headers["content-disposition"]


class TestTheExport:
    def test_a_name_typed_as_a_formula_stays_text(self) -> None:
        import datetime as dt

        from portal.households import reads

        reader, organisation = uuid.uuid4(), uuid.uuid4()
        row = {
            "at": dt.datetime(2026, 12, 4, 19, 13, 5, tzinfo=dt.UTC),
            "reader": reader,
            "organisation": organisation,
            "role": "lessor_staff",
            "what": "identity",
            "detail": "",
            "consent": None,
        }
        text = reads.as_csv([row], {reader: '=HYPERLINK("http://x")'}, {organisation: "@Orga"})
        assert text.splitlines()[1] == (
            '04/12/2026 20:13:05;"\'=HYPERLINK(""http://x"")";\'@Orga;lessor_staff;Identité;;'
        )


@pytest.mark.postgres_only
class TestAppendOnly:
    async def test_the_database_refuses_to_change_or_delete_a_row(self, home: Home) -> None:
        import asyncpg

        assert ON_POSTGRES
        household = await orient(home)
        from portal.households import reads
        from portal.households.enums import Read

        log = reads.Reads(home.ctx("worker"))
        log.add(household, "M-2026-0001", Read.IDENTITY)
        await log.flush()
        # A connection of its own, as the portal's role: the pool's keep their settings.
        connection = await asyncpg.connect(DATABASE_URL)
        try:
            await connection.execute("SELECT set_config('portal.platform', 'on', false)")
            for statement in (
                "UPDATE households_read SET what = 'x'",
                "DELETE FROM households_read",
            ):
                with pytest.raises(asyncpg.RaiseError, match="ne se modifie pas"):
                    await connection.execute(statement)
        finally:
            await connection.close()
