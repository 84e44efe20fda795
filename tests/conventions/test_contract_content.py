"""What a signed contract may contain: no placeholder in a frozen version, articles that read
correctly when a variable has no value, and renewals that never cover the same period twice."""

from __future__ import annotations

import datetime as dt
import html
import io
import re
import uuid

import httpx
import pytest
from pypdf import PdfReader

from tests.conftest import login
from tests.conventions.conftest import (
    Cast,
    article_ids,
    convention_row,
    create,
    current_revision,
    make_ready_to_freeze,
    post,
    set_status,
)

PLACEHOLDER = re.compile(r"\[[^\[\]]*\]")


async def _versions(url: str, cast: Cast) -> list[dict[str, object]]:
    from portal.conventions import repository

    scope = cast.world.tenant.scope
    return await repository.versions(scope, uuid.UUID(url.rsplit("/", 1)[1]))


async def _frozen_pdf_text(client: httpx.AsyncClient, url: str, cast: Cast) -> str:
    """The text of the frozen PDF, as signers receive it."""
    number = (await _versions(url, cast))[0]["number"]
    response = await client.get(f"{url}/versions/{number}.pdf")
    assert response.status_code == 200
    return " ".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)


async def _sign(url: str, cast: Cast) -> None:
    from portal.conventions import service

    scope = cast.world.tenant.scope
    latest = (await _versions(url, cast))[0]
    await service.mark_signed(
        scope,
        uuid.UUID(url.rsplit("/", 1)[1]),
        uuid.UUID(str(latest["id"])),
        dt.datetime.now(dt.UTC),
    )


async def _freeze(
    client: httpx.AsyncClient, url: str, cast: Cast, starts_on: str = "01/01/2027"
) -> None:
    await make_ready_to_freeze(client, url, cast, starts_on=starts_on)
    assert (await set_status(client, url, "review")).status_code == 303
    response = await set_status(client, url, "ready")
    assert response.status_code == 303, response.text


async def _signed(client: httpx.AsyncClient, cast: Cast) -> str:
    await login(client, cast.world.tenant.pilot.email)
    url = await create(client, cast)
    await _freeze(client, url, cast)
    await _sign(url, cast)
    return url


async def _clear_info(client: httpx.AsyncClient, url: str, **cleared: str) -> None:
    """Saves the information form with some fields emptied."""
    info: dict[str, object] = {
        "title": "Convention de partenariat AVDL Rhône",
        "project_name": "Logement d'abord Rhône",
        "territory": "Métropole de Lyon",
        "starts_on": "01/01/2027",
        "duration_months": "24",
        "households_target": "100",
        "homes_target": "60",
        "unit_diagnostic_cents": "150",
        "unit_accompaniment_cents": "1 500",
        "unit_gla_cents": "250",
        "revision": await current_revision(client, url),
        **cleared,
    }
    response = await post(client, f"{url}/informations", info)
    assert response.status_code == 303, response.text


class TestPlaceholdersBlockFreezing:
    async def test_a_missing_territory_blocks_freezing_naming_the_article_and_the_field(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast)
        await make_ready_to_freeze(client, url, cast)
        await _clear_info(client, url, territory="")
        assert (await set_status(client, url, "review")).status_code == 303
        response = await set_status(client, url, "ready")
        assert response.status_code == 409
        assert "Article 1 « Objet de la convention »" in response.text
        assert "le territoire" in response.text
        # The list beside the actions links to the field that fills the data.
        assert f'href="{url}#f-territory"' in response.text
        assert (await convention_row(url))["status"] == "review"
        assert not any(v["frozen"] for v in await _versions(url, cast))
        # Filled in: it freezes, and nothing in brackets reaches the frozen version.
        await _clear_info(client, url)
        response = await set_status(client, url, "ready")
        assert response.status_code == 303, response.text
        assert (await _versions(url, cast))[0]["frozen"]
        assert not PLACEHOLDER.search(await _frozen_pdf_text(client, url, cast))
        from portal.conventions import repository

        row = await convention_row(url)
        scope = cast.world.tenant.scope
        stored = await repository.version(scope, uuid.UUID(str(row["id"])), 2)
        assert stored is not None
        assert not any(PLACEHOLDER.search(v) for v in stored["snapshot"]["variables"].values())

    async def test_missing_referents_and_unit_costs_block_freezing(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast)
        await make_ready_to_freeze(client, url, cast)
        await _clear_info(client, url, unit_gla_cents="")
        page = (await client.get(url)).text
        for party_id in re.findall(r"/parties/([0-9a-f-]{36})\"", page):
            block = page.split(f'id="f-role-{party_id}"', 1)[1].split("</select>", 1)[0]
            role = re.search(r'<option value="([a-z_]+)" selected>', block).group(1)  # type: ignore[union-attr]
            await post(
                client,
                f"{url}/parties/{party_id}",
                {"role": role, "signatory_name": "Claire Martin", "referent_name": ""},
            )
        assert (await set_status(client, url, "review")).status_code == 303
        response = await set_status(client, url, "ready")
        assert response.status_code == 409
        assert "Article 5 « Référents »" in response.text
        assert f'href="{url}#parties"' in response.text
        assert "Article 10 « Conditions financières »" in response.text
        assert f'href="{url}#f-unit_gla_cents"' in response.text
        assert not any(v["frozen"] for v in await _versions(url, cast))

    async def test_a_placeholder_typed_into_an_article_blocks_freezing(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast)
        await make_ready_to_freeze(client, url, cast)
        article = (await article_ids(client, url))[11]
        response = await post(
            client,
            f"{url}/articles/{article}",
            {
                "title": "Résiliation",
                "body": "Préavis de trois mois ; indemnité de [montant à renseigner].",
                "revision": "1",
            },
        )
        assert response.status_code == 303, response.text
        assert (await set_status(client, url, "review")).status_code == 303
        response = await set_status(client, url, "ready")
        assert response.status_code == 409
        assert "Article 12 « Résiliation » : remplacez « [montant à renseigner] »" in response.text
        assert f'href="{url}/articles/{article}"' in response.text
        assert not any(v["frozen"] for v in await _versions(url, cast))

    async def test_every_placeholder_of_every_model_is_known_and_blocks(self) -> None:
        """Rendered with no data at all, each `[...]` a model yields comes from the one list
        of placeholders, and the article that shows it cannot be frozen."""
        from portal.conventions import budget, content, models, text
        from portal.conventions.enums import ConventionKind

        row = {
            "kind": "",
            "title": "T",
            "reference": "R",
            "project_name": "",
            "territory": "",
            "starts_on": None,
            "duration_months": 24,
            "households_target": None,
            "homes_target": None,
            "status": "review",
        }
        known = {f"[{m.placeholder}]" for m in models.MISSING.values()}
        for kind in ConventionKind:
            convention = {**row, "kind": kind.value}
            summary = budget.summarise([], convention)
            values, missing = content.variables(convention, [], summary)
            articles = [
                {"id": uuid.uuid4(), "title": title, "body": body}
                for _, title, body in models.articles(kind)
            ]
            whole = content.Content(
                row=convention,
                parties=[],
                articles=articles,
                lines=[],
                indicators=[],
                annexes=[],
                summary=summary,
                variables=values,
                missing=missing,
            )
            blocked = " ".join(b.message for b in content.blockers(whole))
            for number, article in enumerate(articles, 1):
                rendered = html.unescape(str(text.render(str(article["body"]), values)))
                found = set(PLACEHOLDER.findall(rendered))
                assert found <= known, (kind, article["title"], found - known)
                if found:
                    assert f"Article {number} « {article['title']} »" in blocked, (kind, number)


class TestOptionalVariables:
    async def test_state_convention_without_association_reads_correctly_and_freezes(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast, "state")
        await make_ready_to_freeze(client, url, cast)
        page = (await client.get(url)).text
        articles = page.split('id="articles"')[1].split("Ajouter un article")[0]
        assert "[" not in articles
        assert "Métropole de Lyon, par Bailleur alpha-habitat." in articles
        assert (await set_status(client, url, "review")).status_code == 303
        response = await set_status(client, url, "ready")
        assert response.status_code == 303, response.text
        pdf_text = await _frozen_pdf_text(client, url, cast)
        assert not PLACEHOLDER.search(pdf_text)
        assert "Bailleur alpha-habitat" in pdf_text

    async def test_an_older_state_text_naming_associations_says_how_to_fix_it(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        """The State model used to name {{ associations }}, which no party fills there: the
        blocker says to rephrase, with a link to the article, instead of asking for data."""
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast, "state")
        await make_ready_to_freeze(client, url, cast)
        article = (await article_ids(client, url))[2]
        response = await post(
            client,
            f"{url}/articles/{article}",
            {
                "title": "Désignation et caractéristiques du projet",
                "body": "Il associe {{ bailleurs }} et {{ associations }}.",
                "revision": "1",
            },
        )
        assert response.status_code == 303, response.text
        assert (await set_status(client, url, "review")).status_code == 303
        response = await set_status(client, url, "ready")
        assert response.status_code == 409
        assert "aucune association n&#39;est partie à cette convention" in response.text
        assert f'href="{url}/articles/{article}"' in response.text

    async def test_state_convention_names_its_associations_when_there_are(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        await login(client, cast.world.tenant.pilot.email)
        url = await create(client, cast, "state")
        response = await post(
            client,
            f"{url}/parties",
            {"organisation": str(cast.association2_id), "role": "association"},
        )
        assert response.status_code == 303, response.text
        page = (await client.get(url)).text
        assert "par Bailleur alpha-habitat et Association Deux." in page


class TestRenewalChain:
    async def test_a_version_already_renewed_cannot_be_renewed_again(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        url = await _signed(client, cast)  # 24 months from 01/01/2027
        response = await post(client, f"{url}/renouvellement", {"duration_months": "12"})
        assert response.status_code == 303
        first = response.headers["location"]
        # Once a renewal exists (a draft here), the signed version offers no renewal any more.
        page = (await client.get(url)).text
        assert "Préparer le renouvellement" not in page
        assert f'href="{first}"' in page
        response = await post(client, f"{url}/renouvellement", {"duration_months": "12"})
        assert response.status_code == 409
        assert "a déjà été renouvelée" in response.text
        # Signed, the first renewal is the one to renew; the original still cannot be.
        await make_ready_to_freeze(client, first, cast, starts_on="01/01/2029")
        await _clear_info(client, first, starts_on="01/01/2029", duration_months="12")
        assert (await set_status(client, first, "review")).status_code == 303
        assert (await set_status(client, first, "ready")).status_code == 303
        await _sign(first, cast)
        response = await post(client, f"{url}/renouvellement", {"duration_months": "12"})
        assert response.status_code == 409
        assert "a déjà été renouvelée" in response.text
        parent = (await convention_row(url))["id"]
        assert len([r for r in await _conventions(cast) if r["parent"] == parent]) == 1
        assert "Préparer le renouvellement" in (await client.get(first)).text

    async def test_a_second_renewal_of_the_same_period_cannot_be_frozen(
        self, client: httpx.AsyncClient, cast: Cast, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Two renewals of one version, as the portal let them be opened before: the second
        covers the first one's period and can never be frozen."""
        from portal.conventions import lifecycle

        url = await _signed(client, cast)  # 01/01/2027 – 31/12/2028
        first = (await post(client, f"{url}/renouvellement", {"duration_months": "12"})).headers[
            "location"
        ]
        await _freeze(client, first, cast, starts_on="01/01/2029")
        await _sign(first, cast)
        with monkeypatch.context() as m:
            m.setattr(lifecycle, "check_renewable", lambda *args, **kwargs: None, raising=False)
            response = await post(client, f"{url}/renouvellement", {"duration_months": "12"})
        assert response.status_code == 303
        second = response.headers["location"]
        assert (await convention_row(second))["starts_on"] == dt.date(2029, 1, 1)
        assert (await set_status(client, second, "review")).status_code == 303
        response = await set_status(client, second, "ready")
        assert response.status_code == 409
        assert "chevauche" in response.text
        assert str((await convention_row(first))["reference"]) in response.text
        assert (await convention_row(second))["status"] == "review"
        assert not any(v["frozen"] for v in await _versions(second, cast))

    async def test_a_renewal_cannot_start_inside_the_period_it_renews(
        self, client: httpx.AsyncClient, cast: Cast
    ) -> None:
        url = await _signed(client, cast)  # 01/01/2027 – 31/12/2028
        response = await post(client, f"{url}/renouvellement", {"duration_months": "12"})
        renewal = response.headers["location"]
        info: dict[str, object] = {
            "title": "Renouvellement",
            "starts_on": "01/06/2028",
            "duration_months": "12",
            "revision": await current_revision(client, renewal),
        }
        response = await post(client, f"{renewal}/informations", info)
        assert response.status_code == 400
        assert "chevauche" in response.text and "31/12/2028" in response.text
        assert 'id="f-starts_on-error"' in response.text
        assert (await convention_row(renewal))["starts_on"] == dt.date(2029, 1, 1)


async def _conventions(cast: Cast) -> list[dict[str, object]]:
    from portal.conventions import repository

    return await repository.conventions(cast.world.tenant.scope)
