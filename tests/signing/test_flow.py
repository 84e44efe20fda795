"""A three-step signature request end to end over HTTP, e-mails through the real SMTP
server; then the refusals: out of turn, wrong codes, decline, replacement, cancellation."""

from __future__ import annotations

import io
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_jobs
from tests.conventions.conftest import Cast, post
from tests.signing.conftest import (
    ceremony_post,
    frozen_convention,
    last_code,
    links_to,
    send_request,
    sign_as,
    three_steps,
)

pytestmark = pytest.mark.usefixtures("base_url")


def run(command: list[str], **options: object) -> subprocess.CompletedProcess[str]:
    """poppler, NSS and `portal verify` as a user would run them."""
    return subprocess.run(
        command, capture_output=True, text=True, check=options.get("check", False)
    )


async def _request_row(url: str, cast: Cast) -> dict:  # type: ignore[type-arg]
    from portal.core.tenancy import TenantScope
    from portal.signing import repository

    found = await repository.requests_of(
        TenantScope(cast.world.tenant.id), uuid.UUID(url.rsplit("/", 1)[1])
    )
    return found[0]


class TestThreeSteps:
    async def test_ordered_signatures_give_a_valid_signed_pdf(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
        tmp_path: Path,
    ) -> None:
        from portal.core.tenancy import TenantScope
        from portal.signing import chain, files, keys, pades

        url = await frozen_convention(client, cast)
        await send_request(client, url, three_steps(cast))
        await run_jobs()
        pilot, aide, referente = (
            cast.world.tenant.pilot.email,
            cast.association2_worker.email,
            cast.world.tenant.association_worker.email,
        )
        # Only step 1 is invited.
        assert links_to(smtp, pilot) and not links_to(smtp, aide) and not links_to(smtp, referente)
        await sign_as(anonymous, smtp, links_to(smtp, pilot)[0], pilot)
        # Step 2 opens when step 1 is complete.
        assert links_to(smtp, aide) and not links_to(smtp, referente)
        await sign_as(anonymous, smtp, links_to(smtp, aide)[0], aide)
        await sign_as(anonymous, smtp, links_to(smtp, referente)[0], referente)

        req = await _request_row(url, cast)
        assert req["status"] == "completed"
        page = (await client.get(url)).text
        assert "Signée" in page
        # Everyone gets the signed document.
        for email in (pilot, aide, referente):
            assert any(
                "Convention signée" in str(m["Subject"])
                for m in smtp.handler.messages
                if m["To"] == email
            )
        bundle = await client.get(f"{url}/signature/{req['id']}/dossier.zip")
        assert bundle.status_code == 200
        archive = zipfile.ZipFile(io.BytesIO(bundle.content))
        signed_name, certificate_name = sorted(archive.namelist(), key=lambda n: "certificat" in n)
        signed = archive.read(signed_name)
        certificate = archive.read(certificate_name)

        seal = keys.seal_for(cast.slug)
        reports = await files.cpu(pades.validate, signed, seal.trust_roots, seal.crls)
        assert [r.signer_name for r in reports] == ["Pilote Alpha", "Aide Deux", "Référente Alpha"]
        for report in reports:
            assert report.intact and report.valid and report.trusted and report.bottom_line
            assert report.modification_level in {"NONE", "FORM_FILLING", "LTA_UPDATES"}
            assert report.subfilter == "/ETSI.CAdES.detached"
        assert reports[-1].covers_whole_document
        # The certificate of signature is a separate PDF, sealed too.
        sealed = await files.cpu(pades.validate, certificate, seal.trust_roots, seal.crls)
        assert len(sealed) == 1 and sealed[0].intact and sealed[0].valid
        # The audit chain holds and names each step.
        scope = TenantScope(cast.world.tenant.id)
        assert await chain.check(scope, req["id"]) is None

        # poppler agrees, with the test authority trusted through an NSS database.
        pdf = tmp_path / "signee.pdf"
        pdf.write_bytes(signed)
        nss = tmp_path / "nss"
        nss.mkdir()
        root = tmp_path / "root.pem"
        from asn1crypto import pem

        root.write_bytes(pem.armor("CERTIFICATE", seal.trust_roots[0].dump()))
        run(["certutil", "-N", "--empty-password", "-d", f"sql:{nss}"], check=True)
        run(
            ["certutil", "-A", "-n", "root", "-t", "C,C,C", "-i", str(root), "-d", f"sql:{nss}"],
            check=True,
        )
        out = run(
            ["pdfsig", "-nssdir", f"sql:{nss}", str(pdf)], capture_output=True, text=True
        ).stdout
        assert out.count("Signature is Valid.") == 3, out

        # `portal verify` accepts it, and refuses it once a byte is changed.
        verify = [sys.executable, "-m", "portal.cli", "verify"]
        ok = run([*verify, str(pdf)], capture_output=True, text=True)
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "exactement" in ok.stdout
        tampered = bytearray(signed)
        index = tampered.index(b"Convention", len(tampered) // 10)
        tampered[index] = ord("K")
        bad = tmp_path / "alteree.pdf"
        bad.write_bytes(bytes(tampered))
        refused = run([*verify, str(bad)], capture_output=True, text=True)
        assert refused.returncode == 1, refused.stdout
        out = run(
            ["pdfsig", "-nssdir", f"sql:{nss}", str(bad)], capture_output=True, text=True
        ).stdout
        assert "Signature is Valid." not in out.split("Signature #1")[1].split("Signature #2")[0]


class TestRefusals:
    async def test_step_two_cannot_act_before_step_one(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        from portal.core import security
        from portal.core.tenancy import TenantScope
        from portal.signing import repository, workflow

        url = await frozen_convention(client, cast)
        await send_request(client, url, three_steps(cast))
        await run_jobs()
        req = await _request_row(url, cast)
        people = await repository.participants(TenantScope(cast.world.tenant.id), req["id"])
        second = next(p for p in people if p["step"] == 2)
        link = "/signature/" + workflow.token_for(second)
        page = await anonymous.get(link)
        assert page.status_code == 200 and "Pas encore votre tour" in page.text
        response = await ceremony_post(anonymous, link, "code")
        assert response.status_code == 409
        assert "pas encore votre tour" in response.text
        assert not any(m["To"] == second["email"] for m in smtp.handler.messages)
        # A token of another request, or a made-up one, is simply unknown.
        assert (await anonymous.get("/signature/" + security.new_token())).status_code == 404

    async def test_five_wrong_codes_then_a_new_code_is_needed(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        url = await frozen_convention(client, cast)
        await send_request(client, url, three_steps(cast))
        await run_jobs()
        pilot = cast.world.tenant.pilot.email
        link = links_to(smtp, pilot)[0]
        await ceremony_post(anonymous, link, "code")
        code = last_code(smtp, pilot)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for left in (4, 3, 2, 1):
            response = await ceremony_post(
                anonymous, link, "signer", {"code": wrong, "consent": "on", "mark_kind": "typed"}
            )
            assert response.status_code == 422
            assert f"il vous reste {left} essai" in response.text
        response = await ceremony_post(
            anonymous, link, "signer", {"code": wrong, "consent": "on", "mark_kind": "typed"}
        )
        assert "le dernier essai" in response.text
        # Even the right code is now refused: a new one must be asked for.
        response = await ceremony_post(
            anonymous, link, "signer", {"code": code, "consent": "on", "mark_kind": "typed"}
        )
        assert response.status_code == 422 and "Demandez d&#39;abord votre code" in response.text
        req = await _request_row(url, cast)
        assert req["current_step"] == 1

    async def test_decline_stops_the_request_and_tells_the_pilot(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        url = await frozen_convention(client, cast)
        await send_request(client, url, three_steps(cast))
        await run_jobs()
        link = links_to(smtp, cast.world.tenant.pilot.email)[0]
        response = await ceremony_post(anonymous, link, "refus", {"reason": ""})
        assert response.status_code == 422 and "Indiquez pourquoi" in response.text
        response = await ceremony_post(
            anonymous, link, "refus", {"reason": "Le montant de l'article 10 est erroné."}
        )
        assert response.status_code == 303
        req = await _request_row(url, cast)
        assert req["status"] == "declined"
        assert "article 10" in req["closed_reason"]
        notifications = (await client.get("/notifications")).text
        assert "refuse de signer" in notifications
        response = await ceremony_post(anonymous, link, "code")
        assert response.status_code == 422 and "close" in response.text

    async def test_replaced_signer_link_stops_working(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        url = await frozen_convention(client, cast)
        await send_request(client, url, three_steps(cast))
        await run_jobs()
        old_link = links_to(smtp, cast.world.tenant.pilot.email)[0]
        req = await _request_row(url, cast)
        from portal.core.tenancy import TenantScope
        from portal.signing import repository

        first = next(
            p
            for p in await repository.participants(TenantScope(cast.world.tenant.id), req["id"])
            if p["step"] == 1
        )
        base = f"{url}/signature/{req['id']}/participants/{first['id']}/remplacement"
        response = await post(
            client, base, {"name": "Copilote Alpha", "email": "", "reason": "Congé"}
        )
        assert response.status_code == 422 and "Adresse e-mail invalide" in response.text
        response = await post(
            client,
            base,
            {"name": "Copilote Alpha", "email": cast.second_pilot.email, "reason": "Congé maladie"},
        )
        assert response.status_code == 303
        await run_jobs()
        assert (await anonymous.get(old_link)).text.count("Lien remplacé") == 1
        new_link = links_to(smtp, cast.second_pilot.email)[0]
        await sign_as(anonymous, smtp, new_link, cast.second_pilot.email)
        assert (await _request_row(url, cast))["current_step"] == 2

    async def test_cancel_closes_every_link(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        url = await frozen_convention(client, cast)
        await send_request(client, url, three_steps(cast))
        await run_jobs()
        req = await _request_row(url, cast)
        response = await post(client, f"{url}/signature/{req['id']}/annulation", {"reason": ""})
        assert response.status_code == 422 and "motif" in response.text
        response = await post(
            client,
            f"{url}/signature/{req['id']}/annulation",
            {"reason": "Erreur dans l'annexe financière"},
        )
        assert response.status_code == 303
        link = links_to(smtp, cast.world.tenant.pilot.email)[0]
        page = await anonymous.get(link)
        assert "Demande close" in page.text
        assert (await ceremony_post(anonymous, link, "code")).status_code == 422
