"""A three-step signature request end to end over HTTP, e-mails through the real SMTP
server; then the refusals: out of turn, wrong codes, decline, replacement, cancellation."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_jobs
from tests.conventions.conftest import Cast, post
from tests.signing.certificates import nss_database, pdfsig
from tests.signing.conftest import (
    cancel_request,
    ceremony_post,
    events,
    frozen_convention,
    last_code,
    links_to,
    people,
    request_form,
    request_row,
    revisions,
    send_request,
    sent_in_three_steps,
    sign_as,
    signed_bundle,
)

pytestmark = pytest.mark.usefixtures("base_url")


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    """poppler and `portal verify` as a user would run them."""
    return subprocess.run(command, capture_output=True, text=True, check=False)


class TestThreeSteps:
    async def test_ordered_signatures_give_a_valid_signed_pdf(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
        tmp_path: Path,
    ) -> None:
        from portal.signing import chain, files, keys
        from portal.signing.pades.validation import validate

        url, _ = await sent_in_three_steps(client, cast)
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

        req = await request_row(url, cast)
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
        signed, certificate = await signed_bundle(client, url, req["id"])

        seal = keys.seal_for(cast.slug)
        reports = await files.cpu(validate, signed, seal.trust_roots, seal.crls)
        assert [r.signer_name for r in reports] == ["Pilote Alpha", "Aide Deux", "Référente Alpha"]
        for report in reports:
            assert report.intact and report.valid and report.trusted and report.bottom_line
            assert report.modification_level in {"NONE", "FORM_FILLING", "LTA_UPDATES"}
            assert report.subfilter == "/ETSI.CAdES.detached"
        assert reports[-1].covers_whole_document
        # The certificate of signature is a separate PDF, sealed too.
        sealed = await files.cpu(validate, certificate, seal.trust_roots, seal.crls)
        assert len(sealed) == 1 and sealed[0].intact and sealed[0].valid
        # The audit chain holds and names each step.
        scope = cast.world.tenant.scope
        assert await chain.check(scope, req["id"]) is None

        # poppler agrees, with the test authority trusted through an NSS database.
        nss = nss_database(tmp_path, seal.trust_roots[0])
        verdicts = pdfsig(signed, nss, tmp_path)
        assert [v["Signature Validation"] for v in verdicts] == ["Signature is Valid."] * 3

        # `portal verify` accepts it, and refuses it once a byte is changed.
        pdf = tmp_path / "signee.pdf"
        pdf.write_bytes(signed)
        verify = [sys.executable, "-m", "portal.cli", "verify"]
        ok = run([*verify, str(pdf)])
        assert ok.returncode == 0, ok.stdout + ok.stderr
        assert "exactement" in ok.stdout
        tampered = bytearray(signed)
        index = tampered.index(b"Convention", len(tampered) // 10)
        tampered[index] = ord("K")
        bad = tmp_path / "alteree.pdf"
        bad.write_bytes(bytes(tampered))
        refused = run([*verify, str(bad)])
        assert refused.returncode == 1, refused.stdout
        assert "ALTÉRÉE" in refused.stdout and "fichier NON VALIDE" in refused.stdout
        verdicts = pdfsig(bytes(tampered), nss, tmp_path)
        assert verdicts[0]["Signature Validation"] != "Signature is Valid."


class TestOneStepTwoSigners:
    async def test_signing_at_the_same_moment_gives_one_revision_after_the_other(
        self,
        client: httpx.AsyncClient,
        make_client,  # type: ignore[no-untyped-def]
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        """Two signatories of the bailleur in step 1 (two fields side by side in its block)
        confirm at once, and two workers apply at once: each signature lands on the revision
        the other produced, never on the same one."""
        from portal.signing import apply, chain, files, keys
        from portal.signing.pades.validation import validate

        pilot, copilot = cast.world.tenant.pilot.email, cast.second_pilot.email
        url = await frozen_convention(client, cast)
        form = request_form(
            [
                ("1", "signer", "1", "Pilote Alpha", pilot),
                ("1", "signer", "1", "Copilote Alpha", copilot),
                ("2", "signer", "2", "Aide Deux", cast.association2_worker.email),
            ]
        )
        await send_request(client, url, form)
        await run_jobs()
        signers = [(make_client(), links_to(smtp, email)[0], email) for email in (pilot, copilot)]
        for browser, link, _ in signers:
            assert (await ceremony_post(browser, link, "code")).status_code == 303
        confirmations = await asyncio.gather(
            *(
                ceremony_post(
                    browser,
                    link,
                    "signer",
                    {"code": last_code(smtp, email), "consent": "on", "mark_kind": "typed"},
                )
                for browser, link, email in signers
            )
        )
        assert [r.status_code for r in confirmations] == [303, 303]
        req = await request_row(url, cast)
        scope = cast.world.tenant.scope
        await asyncio.gather(apply.run(scope, req["id"]), apply.run(scope, req["id"]))

        found = await revisions(cast, req["id"])
        assert [r["number"] for r in found] == [0, 1, 2, 3]
        assert [r["kind"] for r in found[2:]] == ["signature", "signature"]
        assert all(p["status"] == "signed" for p in (await people(cast, req["id"]))[:2])
        assert (await request_row(url, cast))["current_step"] == 2
        data = await files.get(found[-1]["storage_key"], found[-1]["sha256"])
        seal = keys.seal_for(cast.slug)
        reports = await files.cpu(validate, data, seal.trust_roots, seal.crls)
        assert sorted(r.signer_name for r in reports) == ["Copilote Alpha", "Pilote Alpha"]
        assert all(r.intact and r.valid and r.bottom_line for r in reports)
        assert await chain.check(scope, req["id"]) is None
        assert (await events(cast, req["id"])).count("signed") == 2


class TestRoles:
    async def test_an_approver_validates_without_signing_and_a_copy_recipient_is_told(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        from portal.signing import files, keys
        from portal.signing.pades.validation import validate

        pilot, aide, agent = (
            cast.world.tenant.pilot.email,
            cast.association2_worker.email,
            cast.state_agent.email,
        )
        url = await frozen_convention(client, cast)
        form = request_form(
            [
                ("1", "signer", "1", "Pilote Alpha", pilot),
                ("2", "approver", "2", "Aide Deux", aide),
                ("2", "copy", "3", "Instructeur DDETS", agent),
            ]
        )
        await send_request(client, url, form)
        await run_jobs()
        assert not links_to(smtp, agent)  # a copy recipient has nothing to do
        await sign_as(anonymous, smtp, links_to(smtp, pilot)[0], pilot)
        link = links_to(smtp, aide)[0]
        page = (await anonymous.get(link)).text
        assert "Approuver la convention" in page and "Votre marque de signature" not in page
        await ceremony_post(anonymous, link, "code")
        response = await ceremony_post(
            anonymous, link, "signer", {"code": last_code(smtp, aide), "consent": "on"}
        )
        assert response.status_code == 303
        await run_jobs()
        await run_jobs()
        req = await request_row(url, cast)
        assert req["status"] == "completed"
        assert [p["status"] for p in await people(cast, req["id"])] == [
            "signed",
            "approved",
            "notified",
        ]
        signed, _ = await signed_bundle(client, url, req["id"])
        seal = keys.seal_for(cast.slug)
        reports = await files.cpu(validate, signed, seal.trust_roots, seal.crls)
        assert [r.signer_name for r in reports] == ["Pilote Alpha"]  # approvals are not signatures
        told = [m for m in smtp.handler.messages if m["To"] == agent]
        assert [str(m["Subject"]).split(" :")[0] for m in told] == ["Convention signée"]
        # The copy recipient's link downloads the signed PDF and its certificate.
        copy_link = links_to(smtp, agent)[0]
        assert (await anonymous.get(f"{copy_link}/dossier.zip")).status_code == 200


class TestRefusals:
    async def test_step_two_cannot_act_before_step_one(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        from portal.core import security
        from portal.signing import repository, workflow

        _, req = await sent_in_three_steps(client, cast)
        people = await repository.participants(cast.world.tenant.scope, req["id"])
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
        url, _ = await sent_in_three_steps(client, cast)
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
        req = await request_row(url, cast)
        assert req["current_step"] == 1

    async def test_decline_stops_the_request_and_tells_the_pilot(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        url, _ = await sent_in_three_steps(client, cast)
        link = links_to(smtp, cast.world.tenant.pilot.email)[0]
        response = await ceremony_post(anonymous, link, "refus", {"reason": ""})
        assert response.status_code == 422 and "Indiquez pourquoi" in response.text
        response = await ceremony_post(
            anonymous, link, "refus", {"reason": "Le montant de l'article 10 est erroné."}
        )
        assert response.status_code == 303
        req = await request_row(url, cast)
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
        url, _ = await sent_in_three_steps(client, cast)
        old_link = links_to(smtp, cast.world.tenant.pilot.email)[0]
        req = await request_row(url, cast)
        from portal.signing import repository

        first = next(
            p
            for p in await repository.participants(cast.world.tenant.scope, req["id"])
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
        assert (await anonymous.get(old_link)).status_code == 404
        new_link = links_to(smtp, cast.second_pilot.email)[0]
        await sign_as(anonymous, smtp, new_link, cast.second_pilot.email)
        assert (await request_row(url, cast))["current_step"] == 2

    async def test_cancel_closes_every_link(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        url, req = await sent_in_three_steps(client, cast)
        response = await cancel_request(client, url, req["id"], "")
        assert response.status_code == 422 and "motif" in response.text
        response = await cancel_request(client, url, req["id"], "Erreur dans l'annexe financière")
        assert response.status_code == 303
        link = links_to(smtp, cast.world.tenant.pilot.email)[0]
        assert (await anonymous.get(link)).status_code == 404
        assert (await ceremony_post(anonymous, link, "code")).status_code == 404
