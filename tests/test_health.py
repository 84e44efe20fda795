"""`/healthz` tells the truth: each dependency with its state and latency, a hung one answered
in seconds, and a 503 when the database is down, session cookie or not."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import httpx
import pytest

from portal import health
from portal.auth import service as auth_service
from portal.core import db
from portal.jobs import service as jobs
from tests import services
from tests.conftest import World, login
from tests.services import SmtpServer, setting

EVERY_CHECK = {"database", "storage", "mail", "spool", "queue", "workers", "objects"}


@pytest.fixture(autouse=True)
def fresh_answers() -> Iterator[None]:
    health.forget()
    yield
    health.forget()


@pytest.fixture
def silent_server() -> Iterator[int]:
    """Accepts connections and never says a word (a hung SMTP or S3 server)."""
    with services.silent_server() as port:
        yield port


async def heartbeat(kind: str = "web") -> None:
    await jobs.heartbeat(kind, "", 0, dt.datetime.now(dt.UTC))


class TestEveryDependency:
    async def test_each_check_has_a_state_and_a_latency(
        self, client: httpx.AsyncClient, world: World, smtp: SmtpServer
    ) -> None:
        from portal.core.storage import get_storage

        await get_storage().ensure_ready()
        await heartbeat()
        with setting("smtp_url", smtp.url):
            response = await client.get("/healthz")
        body = response.json()
        assert response.status_code == 200 and body["status"] == "ok", body
        assert set(body["checks"]) == EVERY_CHECK
        for name, check in body["checks"].items():
            assert check["state"] == "ok", name
            assert isinstance(check["latency_ms"], float), name
        assert body["checks"]["mail"]["transport"] == "smtp"
        assert body["checks"]["workers"]["alive"] == 1
        assert response.headers["cache-control"] == "no-store"

    async def test_smtp_down_is_named(self, client: httpx.AsyncClient, world: World) -> None:
        with setting("smtp_url", "smtp://127.0.0.1:1"):
            body = (await client.get("/healthz")).json()
        assert body["status"] == "degraded"
        assert body["checks"]["mail"]["state"] == "error"

    async def test_a_hung_smtp_server_is_named_within_the_timeout(
        self, client: httpx.AsyncClient, world: World, silent_server: int
    ) -> None:
        with setting("smtp_url", f"smtp://127.0.0.1:{silent_server}"):
            started = time.monotonic()
            body = (await client.get("/healthz")).json()
        assert time.monotonic() - started < health.TIMEOUT + 2
        assert body["checks"]["mail"]["state"] == "error"

    async def test_storage_down_or_hung_is_named_within_the_timeout(
        self, client: httpx.AsyncClient, world: World, silent_server: int
    ) -> None:
        from tests.documents.conftest import use_storage

        for url in ("s3://k:s@127.0.0.1:1/bucket", f"s3://k:s@127.0.0.1:{silent_server}/b"):
            health.forget()
            for _ in use_storage(url):
                started = time.monotonic()
                response = await client.get("/healthz")
                elapsed = time.monotonic() - started
            assert response.status_code == 200, url  # pages still work without storage
            assert response.json()["checks"]["storage"]["state"] == "error", url
            assert elapsed < health.TIMEOUT + 2, (url, elapsed)

    async def test_no_worker_seen_lately_is_degraded(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        with setting("redis_url", "redis://127.0.0.1:1/0"), setting("worker_stale_seconds", 60):
            body = (await client.get("/healthz")).json()
            assert body["checks"]["workers"]["state"] == "degraded"
            assert body["checks"]["workers"]["alive"] == 0
            await heartbeat("worker")
            body = (await client.get("/healthz")).json()
        assert body["checks"]["workers"] | {"latency_ms": 0} == {
            "state": "ok",
            "alive": 1,
            "running": 0,
            "redis_waiting": 0,
            "stale_after_seconds": 60,
            "last_seen_seconds": 0,
            "latency_ms": 0,
        }

    async def test_a_spool_without_room_for_one_upload_is_degraded(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        with setting("upload_max_bytes", 10**18):
            body = (await client.get("/healthz")).json()
        assert body["checks"]["spool"]["state"] == "degraded"


class TestDatabaseDown:
    async def test_503_in_json_even_with_a_session_cookie(
        self, client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await login(client, world.tenant.pilot.email)

        async def down(*args: object, **kwargs: object) -> None:
            raise ConnectionRefusedError("database gone")

        monkeypatch.setattr(db, "ping", down)
        monkeypatch.setattr(auth_service, "user_for_session", down)
        response = await client.get("/healthz")
        assert response.status_code == 503
        assert response.json()["status"] == "error"
        assert response.json()["checks"]["database"]["state"] == "error"
        assert {"storage", "mail", "spool"} <= set(response.json()["checks"])

    async def test_pages_say_in_french_that_the_database_does_not_answer(
        self, client: httpx.AsyncClient, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import asyncpg

        await login(client, world.tenant.pilot.email)

        async def down(*args: object, **kwargs: object) -> None:
            raise asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed")

        monkeypatch.setattr(auth_service, "user_for_session", down)
        response = await client.get(f"/c/{world.tenant.slug}/")
        assert response.status_code == 503
        assert "base de données du portail ne répond pas" in response.text.replace("&#39;", "'")
        assert response.headers["retry-after"] == "30"
        assert "Traceback" not in response.text
