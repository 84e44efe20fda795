"""With a time-stamping authority configured: every signature is time-stamped (B-T, with its
validation data: B-LT) and a document time-stamp closes the file (B-LTA); while the authority
cannot be reached, no signature is written, and the step resumes once it answers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from portal.settings import get_settings
from tests.conftest import Clock, port_of, reserved_socket, run_jobs
from tests.conventions.conftest import Cast
from tests.services import setting
from tests.signing.certificates import nss_database, pdfsig
from tests.signing.conftest import (
    events,
    links_to,
    people,
    request_row,
    revisions,
    sent_in_three_steps,
    sign_as,
    sign_three_steps,
    signed_bundle,
)
from tests.signing.tsa import TsaServer

pytestmark = pytest.mark.usefixtures("base_url")


class TestTimestampedSigning:
    async def test_each_signature_is_timestamped_and_a_document_timestamp_closes_the_file(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
        tmp_path: Path,
    ) -> None:
        from portal.signing import files, keys
        from portal.signing.pades.validation import validate

        with TsaServer(get_settings().signing_dir) as tsa, setting("tsa_url", tsa.url):
            url, req = await sign_three_steps(client, anonymous, cast, smtp)
            assert req["status"] == "completed" and req["timestamped"]
            # At least a token per signature, the closing time-stamp and the certificate.
            assert tsa.requests >= 5
        signed, certificate = await signed_bundle(client, url, req["id"])
        kinds = [r["kind"] for r in await revisions(cast, req["id"])]
        assert kinds == ["frozen", "fields", *["signature"] * 3, "document_timestamp"]

        seal = keys.seal_for(cast.slug)
        reports = await files.cpu(validate, signed, seal.trust_roots, seal.crls)
        assert len(reports) == 4
        for report in reports[:3]:
            assert report.intact and report.valid and report.trusted and report.bottom_line
            assert report.timestamp_at is not None, report.summary_fr  # B-T
            assert report.modification_level in {"FORM_FILLING", "LTA_UPDATES"}
        closing = reports[-1]
        assert closing.is_document_timestamp and closing.subfilter == "/ETSI.RFC3161"
        assert closing.intact and closing.valid and closing.trusted and closing.bottom_line
        assert closing.covers_whole_document
        assert b"/DSS" in signed  # validation data embedded (certificates, CRL)
        [sealed] = await files.cpu(validate, certificate, seal.trust_roots, seal.crls)
        assert sealed.bottom_line and sealed.timestamp_at is not None
        assert "timestamp_pending" not in await events(cast, req["id"])

        nss = nss_database(tmp_path, seal.trust_roots[0])
        verdicts = pdfsig(signed, nss, tmp_path)
        assert [v["Signature Validation"] for v in verdicts[:3]] == ["Signature is Valid."] * 3

    async def test_no_signature_is_written_while_the_authority_is_unreachable(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
        clock: Clock,
    ) -> None:
        from portal.signing import files, keys
        from portal.signing.pades.validation import validate

        reserved = reserved_socket()  # nothing listens there yet, and the port stays ours
        port = port_of(reserved)
        pilot, aide = cast.world.tenant.pilot.email, cast.association2_worker.email
        with reserved, setting("tsa_url", f"http://127.0.0.1:{port}/tsa"):
            url, _ = await sent_in_three_steps(client, cast)
            link = links_to(smtp, pilot)[0]
            await sign_as(anonymous, smtp, link, pilot)
            req = await request_row(url, cast)
            first = next(p for p in await people(cast, req["id"]) if p["step"] == 1)
            # Consent is recorded, but the signature waits for its time-stamp.
            assert first["status"] == "submitted"
            assert len(await revisions(cast, req["id"])) == 2  # frozen, then the empty fields
            page = (await anonymous.get(link)).text
            assert "L'autorité d'horodatage ne répond pas pour le moment" in page
            assert not links_to(smtp, aide)  # step 2 does not open meanwhile
            clock.advance(minutes=1)
            await run_jobs()  # the retry fails too: still nothing, and one event per outage
            assert len(await revisions(cast, req["id"])) == 2
            assert (await events(cast, req["id"])).count("timestamp_pending") == 1

            with TsaServer(get_settings().signing_dir, port=port):
                clock.advance(minutes=3)
                await run_jobs()  # the retry now gets its token…
                await run_jobs()  # …and step 2's invitation goes out
        found = await revisions(cast, req["id"])
        assert [r["kind"] for r in found] == ["frozen", "fields", "signature"]
        first = next(p for p in await people(cast, req["id"]) if p["step"] == 1)
        assert first["status"] == "signed"
        assert links_to(smtp, aide)
        data = await files.get(found[-1]["storage_key"], found[-1]["sha256"])
        seal = keys.seal_for(cast.slug)
        [report] = await files.cpu(validate, data, seal.trust_roots, seal.crls)
        assert report.bottom_line and report.timestamp_at is not None
