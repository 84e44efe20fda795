"""The signature audit trail is a hash chain: an altered, removed or reordered row is found
(by the request's page and by `portal signing-audit`); PostgreSQL refuses UPDATE and DELETE
outright; with a time-stamping authority the chain heads are time-stamped once a day."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest
from asn1crypto import cms, tsp  # type: ignore[import-untyped]

from portal.settings import get_settings
from tests.conftest import ON_POSTGRES, OWNER_URL
from tests.conventions.conftest import Cast
from tests.services import setting
from tests.signing.conftest import (
    events,
    frozen_convention,
    request_row,
    send_request,
    sent_in_three_steps,
    three_steps,
)
from tests.signing.tsa import TsaServer

pytestmark = pytest.mark.usefixtures("base_url")


def signing_audit() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "portal.cli", "signing-audit"],
        capture_output=True,
        text=True,
        check=False,
    )


async def as_tamperer(change: Callable[[], Awaitable[object]]) -> None:
    """Someone with direct write access to the database; on PostgreSQL that takes disabling
    the append-only trigger first (the tables' owner's privilege, not the portal's)."""
    if ON_POSTGRES:
        await as_owner("ALTER TABLE signing_event DISABLE TRIGGER signing_event_append_only")
    try:
        await change()
    finally:
        if ON_POSTGRES:
            await as_owner("ALTER TABLE signing_event ENABLE TRIGGER signing_event_append_only")


async def as_owner(ddl: str) -> None:
    import asyncpg

    owner = await asyncpg.connect(OWNER_URL)
    try:
        await owner.execute(ddl)
    finally:
        await owner.close()


def _alter(request_id: uuid.UUID) -> Awaitable[object]:
    from portal.signing.tables import Event

    return Event.update({Event.actor: "Quelqu'un d'autre"}).where(  # tenant-scope-ok: tamper
        (Event.request == request_id) & (Event.seq == 2)
    )


def _remove(seq: int) -> Callable[[uuid.UUID], Awaitable[object]]:
    def remove(request_id: uuid.UUID) -> Awaitable[object]:
        from portal.signing.tables import Event

        return Event.delete().where(  # tenant-scope-ok: tamper
            (Event.request == request_id) & (Event.seq == seq)
        )

    return remove


async def _swap(request_id: uuid.UUID) -> None:
    from portal.signing.tables import Event

    for old, new in ((1, 1000), (2, 1), (1000, 2)):
        await Event.update({Event.seq: new}).where(  # tenant-scope-ok: tamper
            (Event.request == request_id) & (Event.seq == old)
        )


class TestChain:
    @pytest.mark.parametrize(
        ("tamper", "seq", "reason"),
        [
            (_alter, 2, "contenu modifié après coup"),
            (_remove(1), 1, "événement n° 1 manquant"),
            (_remove(2), 2, "les derniers événements (jusqu'au n° 2) manquent"),
            (_swap, 1, "ne suit pas l'événement précédent"),
        ],
        ids=["altered", "removed", "last-removed", "reordered"],
    )
    async def test_a_tampered_row_breaks_the_chain_at_its_link(
        self,
        client: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
        tamper: Callable[[uuid.UUID], Awaitable[object]],
        seq: int,
        reason: str,
    ) -> None:
        from portal.signing import chain

        url, req = await sent_in_three_steps(client, cast)
        scope = cast.world.tenant.scope
        assert await chain.check(scope, req["id"]) is None
        ok = signing_audit()
        assert ok.returncode == 0 and "Journaux de signature intacts." in ok.stdout

        assert [e for e in await events(cast, req["id"])] == ["created", "sent"]
        await as_tamperer(lambda: tamper(req["id"]))
        broken = await chain.check(scope, req["id"])
        assert broken is not None and broken.seq == seq and broken.reason.startswith(reason)
        result = signing_audit()
        assert result.returncode == 1
        assert f"demande {req['id']} : maillon {seq} rompu" in result.stdout
        page = (await client.get(f"{url}/signature")).text
        assert f"Journal d'audit rompu au maillon {seq}" in page

    @pytest.mark.postgres_only
    async def test_postgres_refuses_to_change_or_remove_a_row(
        self,
        client: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        from portal.signing.tables import Event, Revision

        url = await frozen_convention(client, cast)
        await send_request(client, url, three_steps(cast))
        req = await request_row(url, cast)
        with pytest.raises(Exception, match="append-only"):
            await _alter(req["id"])
        with pytest.raises(Exception, match="append-only"):
            await _remove(1)(req["id"])
        with pytest.raises(Exception, match="append-only"):
            await Revision.update({Revision.sha256: "0" * 64}, force=True)  # tenant-scope-ok: t
        assert await Event.count().where(Event.request == req["id"]) == 2  # tenant-scope-ok: t


class TestEvidence:
    async def test_an_event_keeps_the_address_and_browser_of_who_acted(
        self,
        client: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        from portal.signing import repository

        client.headers["user-agent"] = "Navigateur de test/1.0 " + "x" * 500
        _, req = await sent_in_three_steps(client, cast)
        created = (await repository.events(cast.world.tenant.scope, req["id"]))[0]
        assert (created["kind"], created["ip"]) == ("created", "127.0.0.1")
        assert created["user_agent"] == ("Navigateur de test/1.0 " + "x" * 500)[:400]


class TestDailyAnchor:
    async def test_chain_heads_are_time_stamped_once_a_day(
        self,
        client: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        from portal.signing import chain, repository, schedule

        url = await frozen_convention(client, cast)
        await send_request(client, url, three_steps(cast))
        req = await request_row(url, cast)
        at = dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC)
        assert not await schedule.anchor_heads(at)  # no authority configured: nothing
        with TsaServer(get_settings().signing_dir) as tsa, setting("tsa_url", tsa.url):
            assert await schedule.anchor_heads(at)
            assert not await schedule.anchor_heads(at + dt.timedelta(hours=5))  # same day
            assert tsa.requests == 1
        [anchor] = await repository.anchors()
        head = await chain.head(cast.world.tenant.scope, req["id"])
        assert anchor["heads"] == {str(req["id"]): head}
        digest = hashlib.sha256(json.dumps(anchor["heads"], sort_keys=True).encode()).digest()
        assert anchor["digest"] == digest.hex()
        token = cms.ContentInfo.load(base64.b64decode(anchor["token"]))
        info = tsp.TSTInfo.load(token["content"]["encap_content_info"]["content"].parsed.dump())
        assert info["message_imprint"]["hashed_message"].native == digest

        # A tamperer who removes the last event and rewrites the request's own record of the
        # chain is still caught: the time-stamped head is gone.
        from portal.signing.tables import SignatureRequest

        async def remove_and_cover() -> None:
            await _remove(2)(req["id"])
            first = (await repository.events(cast.world.tenant.scope, req["id"]))[0]
            await SignatureRequest.update(  # tenant-scope-ok: tamper
                {SignatureRequest.chain_length: 1, SignatureRequest.chain_head: first["hash"]}
            ).where(SignatureRequest.id == req["id"])

        await as_tamperer(remove_and_cover)
        broken = await chain.check(cast.world.tenant.scope, req["id"])
        assert broken is not None and "horodaté par l'autorité a disparu" in broken.reason
