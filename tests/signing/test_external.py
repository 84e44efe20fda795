"""A step signed outside the portal: the State service downloads the PDF, signs it with its own
certificate and uploads it. Only a file that extends the revision sent, byte for byte, with
one intact signature from an authority the consortium accepts, is taken."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pypdf import PdfReader

from tests.conftest import run_jobs
from tests.conventions.conftest import Cast, create, make_ready_to_freeze, set_status
from tests.services import setting
from tests.signing.certificates import External, add_page, external_signer, resave, stranger
from tests.signing.conftest import (
    ceremony_post,
    events,
    links_to,
    people,
    request_form,
    request_row,
    send_request,
    sign_as,
    signed_bundle,
)

pytestmark = pytest.mark.usefixtures("base_url")


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> External:
    return external_signer(tmp_path_factory.mktemp("agent"))


@pytest.fixture
def accepted(agent: External, tmp_path: Path, cast: Cast) -> Iterator[None]:
    """The consortium accepts the State's authority (`<slug>-autorites.pem`)."""
    from portal.signing import keys

    (tmp_path / f"{cast.slug}-autorites.pem").write_bytes(agent.root_pem.read_bytes())
    keys.seal_for.cache_clear()
    with setting("signing_seals_dir", tmp_path):
        yield
    keys.seal_for.cache_clear()


async def own_tool(pdf: bytes, field: str, seal) -> bytes:  # type: ignore[no-untyped-def]
    """What a parapheur does: fill the empty field in an incremental update."""
    out = io.BytesIO()
    await signers.async_sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)),
        signers.PdfSignatureMetadata(
            field_name=field, subfilter=SigSeedSubFilter.PADES, md_algorithm="sha256"
        ),
        signer=seal.signer,
        output=out,
    )
    return out.getvalue()


async def upload(client: httpx.AsyncClient, link: str, data: bytes) -> httpx.Response:
    page = await client.get(link)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    return await client.post(
        f"{link}/depot",
        data={"csrf_token": token.group(1)},
        files={"file": ("convention-signee.pdf", data, "application/pdf")},
    )


class TestExternalStep:
    async def test_only_a_faithful_counter_signature_is_accepted(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
        agent: External,
        accepted: None,
    ) -> None:
        from portal.signing import files, keys
        from portal.signing.pades.validation import validate
        from tests.conftest import login

        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast, "state")
        await make_ready_to_freeze(client, url, cast)
        assert (await set_status(client, url, "review")).status_code == 303
        assert (await set_status(client, url, "ready")).status_code == 303
        # Parties of the State convention: 1 the bailleur, 2 the DDETS.
        pilot, agent_email = cast.world.tenant.pilot.email, cast.state_agent.email
        form = request_form(
            [
                ("1", "signer", "1", "Pilote Alpha", pilot),
                ("2", "signer", "2", "Agent DDETS", agent_email),
            ],
            **{"external-2": "on"},
        )
        await send_request(client, url, form)
        await run_jobs()
        await sign_as(anonymous, smtp, links_to(smtp, pilot)[0], pilot)
        req = await request_row(url, cast)
        assert req["external_steps"] == [2] and req["current_step"] == 2

        # The State agent is told to sign in its own tool, and may not ask for a code.
        invitation = next(
            m
            for m in smtp.handler.messages
            if m["To"] == agent_email and "À signer" in m["Subject"]
        )
        assert "votre propre outil" in invitation.get_body(("plain",)).get_content()
        link = links_to(smtp, agent_email)[0]
        page = await anonymous.get(link)
        assert "Signer avec votre propre outil" in page.text
        assert (await ceremony_post(anonymous, link, "code")).status_code == 422
        sent = (await anonymous.get(f"{link}/document.pdf")).content
        field = next(p for p in await people(cast, req["id"]) if p["step"] == 2)["field_name"]
        countersigned = await own_tool(sent, field, agent.seal)

        for bad, reason in (
            (resave(countersigned), "ne prolonge pas la version envoyée"),
            (
                await own_tool(sent, field, stranger()),
                "n&#39;est pas émis par une autorité acceptée",
            ),
            (add_page(countersigned, incremental=True), "modifié au-delà de l&#39;ajout"),
            (b"%PDF-1.7 pas un vrai PDF", "ne prolonge pas la version envoyée"),
        ):
            response = await upload(anonymous, link, bad)
            assert response.status_code == 422 and reason in response.text, response.text[-3000:]
        assert (await events(cast, req["id"])).count("external_rejected") == 4
        assert (await request_row(url, cast))["current_step"] == 2

        response = await upload(anonymous, link, countersigned)
        assert response.status_code == 303, response.text[-2000:]
        await run_jobs()
        req = await request_row(url, cast)
        assert req["status"] == "completed"
        signer = next(p for p in await people(cast, req["id"]) if p["step"] == 2)
        assert signer["status"] == "signed" and signer["certificate_qualified"]
        assert "Agent DDETS" in signer["certificate_subject"]
        assert "Autorité de l'État (test)" in signer["certificate_issuer"]

        signed, certificate = await signed_bundle(client, url, req["id"])
        assert signed.startswith(countersigned)  # history preserved, byte for byte
        seal = keys.seal_for(cast.slug)
        reports = await files.cpu(validate, signed, seal.trust_roots, seal.crls)
        assert [r.signer_name for r in reports] == ["Pilote Alpha", "Agent DDETS"]
        assert all(r.intact and r.valid and r.trusted and r.bottom_line for r in reports)
        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(certificate)).pages)
        assert "(le certificat se déclare qualifié)" in re.sub(r"\s+", " ", text)
