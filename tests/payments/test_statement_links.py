"""Every statement link a member is shown opens the statement (no link that answers 404)."""

from __future__ import annotations

import re

import httpx

from tests.payments.conftest import Money, login
from tests.payments.test_visibility import setup

LINK = re.compile(r'href="([^"]*/versements/(?:releves|echeanciers|lignes)/[0-9a-f-]{36})"')


async def statement_links(client: httpx.AsyncClient, money: Money) -> set[str]:
    """The statement links on the payments pages, their schedules' and their lines' pages."""
    pages = [money.base, f"{money.base}/rapprochement"]
    seen: set[str] = set()
    statements: set[str] = set()
    while pages:
        page = pages.pop()
        if page in seen:
            continue
        seen.add(page)
        response = await client.get(page)
        assert response.status_code == 200, page
        for link in LINK.findall(response.text):
            (statements.add if "/releves/" in link else pages.append)(link)
    return statements


class TestStatementLinks:
    async def test_every_statement_link_opens_for_each_viewer(
        self,
        client: httpx.AsyncClient,
        make_client,
        money: Money,  # type: ignore[no-untyped-def]
    ) -> None:
        await setup(client, money)
        world = money.cast.world
        viewers = {
            "state agent": money.cast.state_agent.email,
            "bailleur staff": money.cast.lessor_staff.email,
            "association": world.tenant.association_worker.email,
            "read only": world.tenant.read_only.email if world.tenant.read_only else "",
            "finance": money.finance.email,
        }
        shown: dict[str, set[str]] = {}
        for who, email in viewers.items():
            viewer = make_client()
            await login(viewer, email)
            shown[who] = await statement_links(viewer, money)
            for link in shown[who]:
                response = await viewer.get(link)
                assert response.status_code == 200, (who, link)
                assert response.headers["content-type"] == "application/pdf"
        # Those who may open statements still get their links.
        assert any(str(money.association) in link for link in shown["association"])
        assert len(shown["finance"]) >= 2
