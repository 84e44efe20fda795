"""Working together on a convention: concurrent edits, proposals, comments with mentions,
history and diffs, and article text that cannot carry markup."""

from __future__ import annotations

import email
import re
from email import policy

import httpx

from tests.conftest import delivered_mails, login
from tests.conventions.conftest import Cast, article_ids, create, post


async def _article(client: httpx.AsyncClient, cast: Cast) -> tuple[str, str]:
    await login(client, cast.world.tenant.pilot.email)
    url = await create(client, cast)
    return url, f"{url}/articles/{(await article_ids(client, url))[0]}"


class TestConcurrentEdits:
    async def test_second_save_is_refused_and_shows_the_other_change(
        self,
        make_client,
        cast: Cast,  # type: ignore[no-untyped-def]
    ) -> None:
        first, second = make_client(), make_client()
        _, article = await _article(first, cast)
        await login(second, cast.second_pilot.email)
        # Both opened revision 1.
        assert 'name="revision" value="1"' in (await second.get(article)).text
        response = await post(
            first,
            article,
            {
                "title": "Objet de la convention",
                "body": "Texte de la pilote.",
                "revision": "1",
            },
        )
        assert response.status_code == 303
        response = await post(
            second,
            article,
            {
                "title": "Objet de la convention",
                "body": "Texte du copilote.",
                "revision": "1",
            },
        )
        assert response.status_code == 409
        page = response.text
        assert "Votre modification n'a pas été enregistrée" in page
        assert "Pilote alpha-habitat a enregistré cet article" in page
        assert "Texte de la pilote." in page and "Texte du copilote." in page
        # The form now builds on the saved revision and still holds the refused text.
        assert 'name="revision" value="2"' in page
        assert ">Texte du copilote.</textarea>" in page
        shown = (await second.get(article)).text
        assert "<p>Texte de la pilote.</p>" in shown
        # Saving again over revision 2, knowingly, works.
        response = await post(
            second,
            article,
            {
                "title": "Objet de la convention",
                "body": "Texte commun.",
                "revision": "2",
            },
        )
        assert response.status_code == 303
        history = (await second.get(article)).text.split('id="historique"')[1]
        assert "Révision 3 – modification par Copilote Alpha" in history
        assert "Révision 2 – modification par Pilote alpha-habitat" in history

    async def test_structured_fields_are_protected_the_same_way(
        self,
        make_client,
        cast: Cast,  # type: ignore[no-untyped-def]
    ) -> None:
        first, second = make_client(), make_client()
        url, _ = await _article(first, cast)
        await login(second, cast.second_pilot.email)
        data = {"title": "Titre A", "duration_months": "24", "revision": "1"}
        assert (await post(first, f"{url}/informations", data)).status_code == 303
        response = await post(second, f"{url}/informations", {**data, "title": "Titre B"})
        assert response.status_code == 400
        assert "modifiées par quelqu&#39;un d&#39;autre" in response.text


class TestProposals:
    async def test_party_proposes_pilot_accepts_and_history_keeps_it(
        self,
        make_client,
        cast: Cast,  # type: ignore[no-untyped-def]
    ) -> None:
        pilot, worker = make_client(), make_client()
        url, article = await _article(pilot, cast)
        await login(worker, cast.world.tenant.association_worker.email)
        page = (await worker.get(article)).text
        assert "Modifier l'article" not in page  # parties do not edit directly
        response = await post(
            worker,
            f"{article}/propositions",
            {
                "title": "Objet de la convention",
                "body": "Objet précisé par l'association.",
                "explanation": "Nous ajoutons le public.",
            },
        )
        assert response.status_code == 303
        # A party cannot save the article itself.
        response = await post(worker, article, {"title": "X", "body": "Y", "revision": "1"})
        assert response.status_code == 403
        page = (await pilot.get(article)).text
        assert "Nous ajoutons le public." in page and "en attente" in page
        suggestion = re.search(r"/propositions/([0-9a-f-]{36})\"", page).group(1)  # type: ignore[union-attr]
        response = await post(
            pilot,
            f"{article}/propositions/{suggestion}",
            {
                "decision": "accept",
                "note": "Bonne précision",
            },
        )
        assert response.status_code == 303
        page = (await pilot.get(article)).text
        assert "<p>Objet précisé par l'association.</p>" in page
        assert "acceptée par Pilote alpha-habitat" in page
        assert "proposition acceptée par Référente alpha-habitat" in page
        assert (
            "proposée par Référente alpha-habitat, acceptée par Pilote alpha-habitat : "
            "Bonne précision" in page
        )
        history = (await pilot.get(f"{url}/historique")).text
        assert (
            "Proposition de Référente alpha-habitat sur « Objet de la convention » acceptée"
            in history
        )
        # Deciding twice is refused.
        response = await post(pilot, f"{article}/propositions/{suggestion}", {"decision": "reject"})
        assert response.status_code == 409 and "déjà été traitée" in response.text
        # The author is told through the notifications.
        notifications = (await worker.get("/notifications")).text
        assert "Votre proposition sur « Objet de la convention » a été acceptée" in notifications

    async def test_rejection_stays_in_history_and_stale_proposal_is_not_applied(
        self,
        make_client,
        cast: Cast,  # type: ignore[no-untyped-def]
    ) -> None:
        pilot, worker = make_client(), make_client()
        url, article = await _article(pilot, cast)
        await login(worker, cast.world.tenant.association_worker.email)
        for body in ("Première proposition.", "Seconde proposition."):
            await post(worker, f"{article}/propositions", {"title": "", "body": body})
        ids = re.findall(r"/propositions/([0-9a-f-]{36})\"", (await pilot.get(article)).text)
        response = await post(
            pilot,
            f"{article}/propositions/{ids[0]}",
            {
                "decision": "reject",
                "note": "Hors sujet",
            },
        )
        assert response.status_code == 303
        # The pilot edits meanwhile: accepting the second would erase that edit.
        await post(
            pilot, article, {"title": "Objet de la convention", "body": "Édité.", "revision": "1"}
        )
        response = await post(pilot, f"{article}/propositions/{ids[1]}", {"decision": "accept"})
        assert response.status_code == 409
        assert "L&#39;article a été modifié depuis cette proposition" in response.text
        page = (await pilot.get(article)).text
        assert "<p>Édité.</p>" in page
        assert "rejetée par Pilote alpha-habitat" in page and "Hors sujet" in page
        history = (await pilot.get(f"{url}/historique")).text
        assert "rejetée : Hors sujet" in history

    async def test_identical_proposal_is_refused(
        self,
        make_client,
        cast: Cast,  # type: ignore[no-untyped-def]
    ) -> None:
        pilot, worker = make_client(), make_client()
        _, article = await _article(pilot, cast)
        await login(worker, cast.world.tenant.association_worker.email)
        page = (await worker.get(article)).text
        body = re.search(r'id="f-s-body" name="body" rows="12">(.*?)</textarea>', page, re.S)
        assert body is not None
        import html

        response = await post(
            worker,
            f"{article}/propositions",
            {
                "title": "",
                "body": html.unescape(body.group(1)),
            },
        )
        assert response.status_code == 400
        assert "identique au texte actuel" in response.text


class TestComments:
    async def test_threads_mentions_and_resolution(
        self,
        make_client,
        cast: Cast,
        clock,  # type: ignore[no-untyped-def]
    ) -> None:
        pilot, worker = make_client(), make_client()
        url, article = await _article(pilot, cast)
        await login(worker, cast.world.tenant.association_worker.email)
        page = (await worker.get(article)).text
        assert "<code>@pilote</code>" in page  # the handle to mention the pilot
        assert "@aide" in page  # the other association is party to this one
        response = await post(
            worker,
            f"{article}/commentaires",
            {
                "body": "@pilote pouvez-vous préciser le public ? (cc @inconnu)",
            },
        )
        assert response.status_code == 303
        thread = response.headers["location"].rsplit("commentaire-", 1)[1]
        # The mentioned pilot is notified, in the portal and by e-mail through the job layer.
        notifications = (await pilot.get("/notifications")).text
        assert (
            "Référente alpha-habitat vous mentionne sur « Objet de la convention »" in notifications
        )
        mails = [
            email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in await delivered_mails()
        ]
        assert [m["To"] for m in mails] == ["pilote@alpha.example.org"]
        body = mails[0].get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert "vous mentionne" in body and "préciser le public" in body
        # Reply, then resolve.
        response = await post(
            pilot,
            f"{article}/commentaires",
            {
                "body": "Oui, je le fais.",
                "thread": thread,
            },
        )
        assert response.status_code == 303
        response = await post(worker, f"{article}/commentaires/{thread}/resolution", {})
        assert response.status_code == 303
        page = (await pilot.get(article)).text
        assert "résolue par Référente alpha-habitat" in page
        assert "Oui, je le fais." in page
        overview = (await pilot.get(url)).text
        assert "discussion ouverte" not in overview
        # Empty comment: a message next to the field.
        response = await post(worker, f"{article}/commentaires", {"body": "  "})
        assert response.status_code == 400 and "Écrivez votre commentaire." in response.text

    async def test_mention_of_someone_who_cannot_see_it_notifies_nobody(
        self,
        make_client,
        cast: Cast,  # type: ignore[no-untyped-def]
    ) -> None:
        from portal.notifications.tables import Notification

        pilot = make_client()
        await login(pilot, cast.world.tenant.pilot.email)
        url = await create(pilot, cast, "state")  # associations are not party to it
        article = f"{url}/articles/{(await article_ids(pilot, url))[0]}"
        await post(pilot, f"{article}/commentaires", {"body": "Vu avec @aide et @instructeur"})
        rows = await Notification.select(Notification.user)
        assert {r["user"] for r in rows} == {cast.state_agent.id}


class TestTextAndDiffs:
    async def test_markup_is_neutralised_and_lists_render(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        url, article = await _article(client, cast)
        body = (
            "Un *point* et **un autre**.\n\n- premier\n- second\n\n"
            '<script>alert("x")</script> <img src=x onerror=alert(1)> [lien](javascript:alert(1))'
            "\n\nLe porteur est {{ bailleur_porteur }} ; {{ inconnue }}."
        )
        response = await post(
            client,
            article,
            {
                "title": "Objet <b>gras</b>",
                "body": body,
                "revision": "1",
            },
        )
        assert response.status_code == 303
        page = (await client.get(article)).text
        text = page.split('aria-label="Texte de l\'article"', 1)[1].split("</section>", 1)[0]
        assert "<em>point</em>" in text and "<strong>un autre</strong>" in text
        assert "<li>premier</li>" in text
        assert "<script" not in text and "<img" not in text and "href" not in text
        assert "&lt;script&gt;" in text
        assert "Le porteur est Bailleur alpha-habitat" in text
        assert '<mark class="unknown-variable">{{ inconnue }}</mark>' in text
        assert "Objet &lt;b&gt;gras&lt;/b&gt;" in page
        # The unknown variable blocks freezing with its article number.
        from tests.conventions.conftest import make_ready_to_freeze, set_status

        await make_ready_to_freeze(client, url, cast)
        await set_status(client, url, "review")
        response = await set_status(client, url, "ready")
        assert response.status_code == 409
        assert (
            "Article 1 « Objet &lt;b&gt;gras&lt;/b&gt; » : variable inconnue {{ inconnue }}."
            in response.text
        )

    async def test_diff_between_review_versions(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        from tests.conventions.conftest import set_status

        url, article = await _article(client, cast)
        await set_status(client, url, "review")  # version 1
        await post(
            client,
            article,
            {
                "title": "Objet et périmètre",
                "body": "Texte entièrement réécrit.",
                "revision": "1",
            },
        )
        await post(client, f"{url}/articles", {"title": "Article nouveau", "body": "Ajout."})
        await set_status(client, url, "draft")
        await set_status(client, url, "review")  # version 2
        page = (await client.get(f"{url}/comparaison?de=1&a=2")).text
        assert "Comparaison : version 1 → version 2." in page
        assert (
            "Objet <del>de</del><ins>et</ins> <del>la convention</del><ins>périmètre</ins>" in page
        )
        assert "<del>La présente convention organise" in page  # rewritten: old then new
        assert "</del> <ins>Texte entièrement réécrit.</ins>" in page
        assert "Article 13 – <ins>Article nouveau</ins>" in page and "ajouté" in page
        same = (await client.get(f"{url}/comparaison?de=2&a=2")).text
        assert "Aucune différence." in same
        assert (await client.get(f"{url}/comparaison?de=9&a=2")).status_code == 404
