"""Who reaches what: the request's page and downloads follow the convention's visibility
(another consortium: 404), only the pilot acts on a request, a link only ever acts for its own
participant and request, account holders find their signatures on their home page, and the
public verification page."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import login, run_jobs
from tests.conventions.conftest import Cast, post
from tests.signing.conftest import (
    cancel_request,
    ceremony_post,
    last_code,
    links_to,
    people,
    request_row,
    send_request,
    sent_in_three_steps,
    sign_as,
    three_steps,
)

pytestmark = pytest.mark.usefixtures("base_url")


class TestPages:
    async def test_anonymous_other_consortium_and_wrong_role(
        self,
        client: httpx.AsyncClient,
        make_client,  # type: ignore[no-untyped-def]
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        url, req = await sent_in_three_steps(client, cast)
        base = f"{url}/signature"
        confirmation = f"{base}/{req['id']}/annulation"
        pages = [base, f"{base}/{req['id']}/document.pdf", confirmation]
        actions = [
            (base, {}),
            (f"{base}/{req['id']}/annulation", {"reason": "Test"}),
            (f"{base}/{req['id']}/expiration", {"expires_on": "31/12/2098"}),
        ]

        anonymous = make_client()
        for path in pages:
            response = await anonymous.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/login")

        other = make_client()
        await login(other, cast.world.other_tenant.pilot.email)
        for path in pages:
            assert (await other.get(path)).status_code == 404
        # Even through its own space's prefix, another consortium's request is not found.
        foreign = base.replace(cast.slug, cast.world.other_tenant.slug)
        assert (await other.get(foreign)).status_code == 404

        # A party's member follows the signatures but does not act on the request.
        worker = make_client()
        await login(worker, cast.world.tenant.association_worker.email)
        page = await worker.get(base)
        assert page.status_code == 200 and "Pilote Alpha" in page.text
        assert "Annuler la demande" not in page.text and "Relancer" not in page.text
        assert (await worker.get(confirmation)).status_code == 403
        for path, data in actions:
            assert (await post(worker, path, data)).status_code == 403
        # The State agent does not see a partnership convention at all.
        agent = make_client()
        await login(agent, cast.state_agent.email)
        assert (await agent.get(base)).status_code == 404
        assert (await request_row(url, cast))["status"] == "active"

    async def test_my_signatures_on_the_home_page(
        self,
        client: httpx.AsyncClient,
        make_client,  # type: ignore[no-untyped-def]
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        _, req = await sent_in_three_steps(client, cast)
        home = (await client.get(f"/c/{cast.slug}/")).text
        assert "Documents en attente de ma signature" in home
        first = next(p for p in await people(cast, req["id"]) if p["step"] == 1)
        entry = f"/c/{cast.slug}/signatures/{first['id']}"
        assert entry in home
        response = await client.get(entry)
        assert response.status_code == 303
        link = links_to(smtp, cast.world.tenant.pilot.email)[0]
        assert response.headers["location"] == f"http://testserver{link}"
        # Step 2's signer has nothing to sign yet, and cannot borrow someone else's entry.
        aide = make_client()
        await login(aide, cast.association2_worker.email)
        assert (
            "Documents en attente de ma signature" not in (await aide.get(f"/c/{cast.slug}/")).text
        )
        assert (await aide.get(entry)).status_code == 404


class TestLinks:
    async def test_a_link_acts_only_for_its_own_participant_and_request(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        pilot, aide = cast.world.tenant.pilot.email, cast.association2_worker.email
        url, first = await sent_in_three_steps(client, cast)
        old_link = links_to(smtp, pilot)[0]
        await ceremony_post(anonymous, old_link, "code")
        old_code = last_code(smtp, pilot)
        cancelled = await cancel_request(client, url, first["id"], "Mauvais signataire")
        assert cancelled.status_code == 303
        await send_request(client, url, three_steps(cast))
        await run_jobs()
        second = await request_row(url, cast)
        assert second["id"] != first["id"]
        new_link = next(link for link in links_to(smtp, pilot) if link != old_link)

        # The first request's link and code are dead, and do nothing to the second request.
        form = {"code": old_code, "consent": "on", "mark_kind": "typed"}
        response = await ceremony_post(anonymous, old_link, "signer", form)
        assert response.status_code == 404
        response = await ceremony_post(anonymous, new_link, "signer", form)
        assert response.status_code == 422 and "Demandez d&#39;abord votre code" in response.text

        # Someone else holding the pilot's forwarded link (here step 2's signer) can only have
        # a code sent to the pilot's address: the signer is whoever reads that mailbox.
        def count(email: str) -> int:
            return len([m for m in smtp.handler.messages if m["To"] == email])

        before = {email: count(email) for email in (pilot, aide)}
        assert (await ceremony_post(anonymous, new_link, "code")).status_code == 303
        assert count(pilot) == before[pilot] + 1 and count(aide) == before[aide]
        response = await ceremony_post(anonymous, new_link, "signer", form)
        assert response.status_code == 422 and "Code erroné" in response.text
        assert (await request_row(url, cast))["current_step"] == 1

    async def test_delegation_to_a_colleague(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        url, req = await sent_in_three_steps(client, cast)
        link = links_to(smtp, cast.world.tenant.pilot.email)[0]
        page = (await anonymous.get(link)).text
        assert cast.second_pilot.email in page  # colleagues of the bailleur are offered
        response = await ceremony_post(
            anonymous, link, "delegation", {"email": cast.association2_worker.email}
        )
        assert response.status_code == 422 and "collègue de votre organisation" in response.text
        response = await ceremony_post(
            anonymous,
            link,
            "delegation",
            {"email": cast.second_pilot.email, "reason": "En congé jusqu'au 15"},
        )
        assert response.status_code == 200 and "Délégation enregistrée" in response.text
        await run_jobs()
        assert (await anonymous.get(link)).status_code == 404
        found = await people(cast, req["id"])
        old = next(p for p in found if p["email"] == cast.world.tenant.pilot.email)
        new = next(p for p in found if p["email"] == cast.second_pilot.email)
        assert old["status"] == "delegated" and new["delegated_from"] == old["id"]
        assert new["field_name"] == old["field_name"] and new["step"] == 1
        notifications = (await client.get("/notifications")).text
        assert "délègue sa signature à Copilote Alpha" in notifications
        await sign_as(anonymous, smtp, links_to(smtp, cast.second_pilot.email)[0], new["email"])
        assert (await request_row(url, cast))["current_step"] == 2


class TestVerificationPage:
    async def test_anyone_checks_a_pdf(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        await sent_in_three_steps(client, cast)
        pilot = cast.world.tenant.pilot.email
        link = links_to(smtp, pilot)[0]
        await sign_as(anonymous, smtp, link, pilot)
        signed = (await anonymous.get(f"{link}/document.pdf")).content

        page = await anonymous.get("/verification")
        assert page.status_code == 200 and "Vérifier un PDF signé" in page.text

        async def check(content: bytes | None) -> httpx.Response:
            files = {"file": ("convention.pdf", content, "application/pdf")} if content else None
            return await post_to_verification(anonymous, files)

        empty = await check(None)
        assert empty.status_code == 422 and "Choisissez un fichier PDF." in empty.text
        junk = await check(b"ceci n'est pas un PDF")
        assert junk.status_code == 422 and "pas un PDF lisible" in junk.text
        good = await check(signed)
        assert good.status_code == 200
        assert "convention.pdf : valide" in good.text and "Pilote Alpha" in good.text
        assert "exactement la révision 2" in good.text
        tampered = bytearray(signed)
        tampered[tampered.index(b"Convention", len(tampered) // 10)] = ord("K")
        bad = await check(bytes(tampered))
        assert "NON VALIDE" in bad.text and "ALTÉRÉE" in bad.text
        assert "ne correspond à aucun document signé via le portail" in bad.text


async def post_to_verification(
    client: httpx.AsyncClient,
    files: dict[str, tuple[str, bytes, str]] | None,
) -> httpx.Response:
    from tests.conftest import csrf_token

    token = await csrf_token(client, "/verification")
    return await client.post("/verification", data={"csrf_token": token}, files=files)
