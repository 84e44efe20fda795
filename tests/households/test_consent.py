"""Without a live consent naming it, nothing shared reaches the bailleur: refused, withdrawn,
expired and wrong-recipient consents are each tried, and what is not about housing never
reaches it whatever the consent."""

from __future__ import annotations

import html
import uuid
from typing import Any

import pytest

from portal.core.forms import FieldError
from tests.conftest import Clock
from tests.households.conftest import Home, orient, post, signed_in
from tests.households.scene import PRIVATE, SYNTHESIS, consent_for


async def _prepared(home: Home) -> uuid.UUID:
    from portal.households import access, diagnostic

    household = await orient(home, "Dubreuil")
    opened = await access.open_household(home.ctx("worker"), household)
    assert opened is not None
    await diagnostic.save_section(opened, "health", PRIVATE)
    await diagnostic.save_section(opened, "synthesis", SYNTHESIS)
    return household


async def _transmit(home: Home, household: uuid.UUID, consent: uuid.UUID) -> None:
    from portal.households import access, consents

    opened = await access.open_household(home.ctx("worker"), household)
    assert opened is not None
    await consents.transmit(opened, consent)


async def _bailleur_reads(home: Home, make_client: Any, household: uuid.UUID) -> str:
    client = await signed_in(make_client, home, "gla")
    response = await client.get(f"{home.base}/{household}/diagnostic")
    assert response.status_code == 200
    return html.unescape(response.text)


class TestLiveConsent:
    async def test_the_bailleur_reads_the_synthesis_and_never_the_private_sections(
        self, home: Home, make_client: Any
    ) -> None:
        household = await _prepared(home)
        await _transmit(home, household, await consent_for(home, household))
        page = await _bailleur_reads(home, make_client, household)
        assert SYNTHESIS in page
        assert PRIVATE not in page

    async def test_a_consent_covering_private_sections_still_sends_only_the_synthesis(
        self, home: Home, make_client: Any
    ) -> None:
        household = await _prepared(home)
        consent = await consent_for(home, household, sections=["health", "budget", "synthesis"])
        await _transmit(home, household, consent)
        page = await _bailleur_reads(home, make_client, household)
        assert SYNTHESIS in page and PRIVATE not in page

    async def test_a_transmission_holds_the_synthesis_as_it_was_sent(
        self, home: Home, make_client: Any
    ) -> None:
        from portal.households import access, diagnostic

        household = await _prepared(home)
        await _transmit(home, household, await consent_for(home, household))
        opened = await access.open_household(home.ctx("worker"), household)
        assert opened is not None
        await diagnostic.save_section(opened, "synthesis", "Nouvelle version non transmise")
        page = await _bailleur_reads(home, make_client, household)
        assert SYNTHESIS in page and "Nouvelle version non transmise" not in page


class TestNoLiveConsent:
    async def test_refused(self, home: Home, make_client: Any) -> None:
        household = await _prepared(home)
        consent = await consent_for(home, household, state="refused")
        with pytest.raises(FieldError, match="ne permet pas"):
            await _transmit(home, household, consent)
        assert SYNTHESIS not in await _bailleur_reads(home, make_client, household)

    async def test_withdrawn_stops_what_was_sent_at_once(
        self, home: Home, make_client: Any
    ) -> None:
        household = await _prepared(home)
        consent = await consent_for(home, household)
        await _transmit(home, household, consent)
        assert SYNTHESIS in await _bailleur_reads(home, make_client, household)
        worker = await signed_in(make_client, home, "worker")
        response = await post(
            worker, f"{home.base}/{household}/consentements/{consent}/retrait", {}
        )
        assert response.status_code == 303
        assert SYNTHESIS not in await _bailleur_reads(home, make_client, household)
        with pytest.raises(FieldError):
            await _transmit(home, household, consent)

    async def test_expired_stops_what_was_sent(
        self, home: Home, make_client: Any, clock: Clock
    ) -> None:
        import datetime as dt

        household = await _prepared(home)
        consent = await consent_for(home, household, expires_on=dt.date(2026, 12, 31))
        await _transmit(home, household, consent)
        assert SYNTHESIS in await _bailleur_reads(home, make_client, household)
        clock.advance(days=40)  # 2027-01-02: expired
        assert SYNTHESIS not in await _bailleur_reads(home, make_client, household)

    async def test_a_consent_naming_another_organisation(
        self, home: Home, make_client: Any
    ) -> None:
        household = await _prepared(home)
        consent = await consent_for(home, household, recipients=[home.other_lessor_id])
        with pytest.raises(FieldError, match="ne permet pas"):
            await _transmit(home, household, consent)
        assert SYNTHESIS not in await _bailleur_reads(home, make_client, household)

    async def test_the_bailleur_changed_since_the_transmission(
        self, home: Home, make_client: Any
    ) -> None:
        from portal.households import repository

        household = await _prepared(home)
        await _transmit(home, household, await consent_for(home, household))
        await repository.update_household(
            home.world.tenant.scope, household, {"lessor": home.other_lessor_id}
        )
        client = await signed_in(make_client, home, "gla")
        assert (await client.get(f"{home.base}/{household}/diagnostic")).status_code == 404
        other = await signed_in(make_client, home, "other_gla")
        page = html.unescape((await other.get(f"{home.base}/{household}/diagnostic")).text)
        assert SYNTHESIS not in page  # sent to the former bailleur, under a consent naming it


class TestRecordingAConsent:
    async def test_through_the_form_with_its_scan_sealed_in_storage(
        self, home: Home, make_client: Any
    ) -> None:
        from portal.core.storage import get_storage
        from portal.households import repository
        from portal.households.demo import blank_scan

        household = await orient(home, "Dubreuil")
        worker = await signed_in(make_client, home, "worker")
        from tests.conftest import csrf_token

        token = await csrf_token(worker, "/")
        scan = blank_scan() + b"% Signature : Odile Dubreuil\n"
        response = await worker.post(
            f"{home.base}/{household}/consentements",
            data={
                "csrf_token": token,
                "purpose": "Transmettre la synthèse logement au bailleur",
                "section-synthesis": "synthesis",
                f"recipient-{home.lessor_id}": str(home.lessor_id),
                "state": "given",
                "collected_on": "05/10/2026",
            },
            files={"evidence": ("autorisation-Dubreuil.pdf", scan, "application/pdf")},
        )
        assert response.status_code == 303, html.unescape(response.text)[-3000:]
        [consent] = await repository.consents(home.world.tenant.scope, household)
        import hashlib

        assert consent["evidence_sha256"] == hashlib.sha256(scan).hexdigest()
        chunks = await get_storage().open(consent["evidence_key"])
        stored = b"".join([c async for c in chunks])
        assert b"Dubreuil" not in stored and b"%PDF" not in stored
        download = await worker.get(
            f"{home.base}/{household}/consentements/{consent['id']}/autorisation"
        )
        assert download.status_code == 200 and download.content == scan
        assert "Dubreuil" not in download.headers["content-disposition"]

    async def test_a_consent_given_without_its_signed_authorisation_is_refused(
        self, home: Home, make_client: Any
    ) -> None:
        household = await orient(home, "Dubreuil")
        worker = await signed_in(make_client, home, "worker")
        from tests.conftest import csrf_token

        token = await csrf_token(worker, "/")
        response = await worker.post(
            f"{home.base}/{household}/consentements",
            data={
                "csrf_token": token,
                "purpose": "Transmettre",
                "section-synthesis": "synthesis",
                f"recipient-{home.lessor_id}": str(home.lessor_id),
                "state": "given",
                "collected_on": "05/10/2026",
            },
            files={"evidence": ("", b"", "application/octet-stream")},
        )
        assert response.status_code == 400
        assert "Joignez l'autorisation signée" in html.unescape(response.text)

    async def test_the_bailleur_cannot_record_or_read_consents(
        self, home: Home, make_client: Any
    ) -> None:
        household = await orient(home, "Dubreuil")
        consent = await consent_for(home, household)
        gla = await signed_in(make_client, home, "gla")
        assert (await gla.get(f"{home.base}/{household}/consentements")).status_code == 403
        evidence = f"{home.base}/{household}/consentements/{consent}/autorisation"
        assert (await gla.get(evidence)).status_code == 403
