"""Throttling per client address on login and reset requests, and the per-(account, address)
lock with its global ceiling (issue 14, point 19). Counters in the database, or in Redis."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import re
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from portal.auth import service, throttle
from portal.core import clock as portal_clock
from tests.conftest import PASSWORD, World, delivered_mails, post_form, redis_test_url

REDIS_TEST_URL = redis_test_url(1)


def client_from(app, address: str) -> httpx.AsyncClient:  # type: ignore[no-untyped-def]
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 40000)),
        base_url="http://testserver",
    )


@pytest.fixture
async def clients(app) -> AsyncIterator:  # type: ignore[no-untyped-def, type-arg]
    made: list[httpx.AsyncClient] = []

    def make(address: str) -> httpx.AsyncClient:
        made.append(client_from(app, address))
        return made[-1]

    yield make
    for c in made:
        await c.aclose()


@pytest.fixture(autouse=True)
def small_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same rules with smaller numbers: each login attempt costs an argon2 hash."""
    from portal.auth import routes

    monkeypatch.setattr(routes, "LOGIN_FAILURES_PER_ADDRESS", (6, dt.timedelta(minutes=15)))
    monkeypatch.setattr(routes, "RESET_REQUESTS_PER_ADDRESS", (4, dt.timedelta(hours=1)))


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    waited: list[float] = []

    async def record(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(throttle, "_sleep", record)
    return waited


async def attempt(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await post_form(client, "/login", {"email": email, "password": password})


@pytest.fixture(params=["database", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each throttling test runs on both stores; Redis on its own db number, emptied."""
    if request.param == "database":
        yield "database"
        return
    import redis as redis_sync

    from tests.services import setting

    connection = redis_sync.Redis.from_url(REDIS_TEST_URL)
    connection.flushdb()
    with setting("redis_url", REDIS_TEST_URL):
        yield "redis"
    connection.flushdb()
    connection.close()


async def stored_counters(backend: str) -> int:
    if backend == "redis":
        import redis.asyncio as redis

        connection = redis.Redis.from_url(REDIS_TEST_URL)
        try:
            return len(await connection.keys(f"{throttle.REDIS_PREFIX}*"))
        finally:
            await connection.aclose()
    from portal.auth.tables import ThrottleCounter

    return int(await ThrottleCounter.count())


class TestSprayingAddresses:
    async def test_an_address_spraying_emails_is_slowed_then_blocked(
        self, clients, world: World, pauses: list[float], backend: str
    ) -> None:  # type: ignore[no-untyped-def]
        sprayer = clients("198.51.100.7")
        limit = throttle_limit()
        for i in range(limit):
            response = await attempt(sprayer, f"cible{i}@exemple.fr", "devine peut-etre")
            assert response.status_code == 400, i
        # Slowed once half the budget was spent, not before.
        assert len(pauses) == limit - limit // 2
        # Then blocked, even for a real account with its right password.
        blocked = await attempt(sprayer, world.tenant.pilot.email, PASSWORD)
        assert blocked.status_code == 429
        page = html.unescape(blocked.text)
        assert "Trop de demandes depuis votre adresse réseau" in page
        assert re.search(r"réessayez dans \d+ minutes?\.", page)
        assert int(blocked.headers["retry-after"]) <= 15 * 60
        assert "portal_session" not in blocked.cookies
        assert await stored_counters(backend) >= 1
        # Another address is not affected.
        other = clients("203.0.113.20")
        assert (await attempt(other, world.tenant.pilot.email, PASSWORD)).status_code == 303

    async def test_the_block_lifts_when_the_window_ends(
        self,
        clients,
        world: World,
        pauses: list[float],
        monkeypatch: pytest.MonkeyPatch,
        backend: str,
    ) -> None:  # type: ignore[no-untyped-def]
        sprayer = clients("198.51.100.8")
        for i in range(throttle_limit() + 1):
            await attempt(sprayer, f"cible{i}@exemple.fr", "devine peut-etre")
        assert (await attempt(sprayer, world.tenant.pilot.email, PASSWORD)).status_code == 429
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15, seconds=1)
        monkeypatch.setattr(portal_clock, "now", lambda: later)
        assert (await attempt(sprayer, world.tenant.pilot.email, PASSWORD)).status_code == 303

    async def test_reset_requests_are_limited_per_address(
        self, clients, world: World, backend: str
    ) -> None:  # type: ignore[no-untyped-def]
        from portal.auth.routes import RESET_REQUESTS_PER_ADDRESS

        limit = RESET_REQUESTS_PER_ADDRESS[0]
        asker = clients("198.51.100.9")
        for i in range(limit):
            response = await post_form(asker, "/mot-de-passe/oublie", {"email": f"x{i}@exemple.fr"})
            assert response.status_code == 303, i
        refused = await post_form(
            asker, "/mot-de-passe/oublie", {"email": world.tenant.pilot.email}
        )
        assert refused.status_code == 429
        assert "réessayez dans" in html.unescape(refused.text)
        assert 'id="f-email-error"' in refused.text
        assert await delivered_mails() == []  # nothing sent for the refused request
        other = clients("203.0.113.21")
        ok = await post_form(other, "/mot-de-passe/oublie", {"email": world.tenant.pilot.email})
        assert ok.status_code == 303


def throttle_limit() -> int:
    from portal.auth.routes import LOGIN_FAILURES_PER_ADDRESS

    return LOGIN_FAILURES_PER_ADDRESS[0]


class TestAccountLockPerAddress:
    async def test_a_stranger_cannot_lock_the_owner_out(
        self, clients, world: World, pauses: list[float]
    ) -> None:  # type: ignore[no-untyped-def]
        victim = world.tenant.pilot.email
        stranger = clients("198.51.100.10")
        for _ in range(service.MAX_FAILURES):
            await attempt(stranger, victim, "pas le bon mot")
        locked = await attempt(stranger, victim, PASSWORD)
        assert locked.status_code == 400
        assert "Trop de tentatives" in html.unescape(locked.text)
        # The owner, from their own address, still gets in.
        owner = clients("203.0.113.30")
        assert (await attempt(owner, victim, PASSWORD)).status_code == 303

    async def test_failures_from_many_addresses_hit_the_accounts_ceiling(
        self, clients, world: World, pauses: list[float], monkeypatch: pytest.MonkeyPatch
    ) -> None:  # type: ignore[no-untyped-def]
        monkeypatch.setattr(service, "ACCOUNT_CEILING", 12)
        victim = world.tenant.pilot.email
        for i in range(12):
            await attempt(clients(f"198.51.100.{100 + i}"), victim, "pas le bon mot")
        owner = clients("203.0.113.31")
        response = await attempt(owner, victim, PASSWORD)
        assert response.status_code == 400
        assert "Trop de tentatives" in html.unescape(response.text)

    def test_the_ceiling_is_well_above_the_pair_lock(self) -> None:
        assert service.ACCOUNT_CEILING >= 10 * service.MAX_FAILURES


class TestCounters:
    async def test_concurrent_hits_are_all_counted(self, world: World, backend: str) -> None:
        window = dt.timedelta(minutes=5)
        counts = await asyncio.gather(*(throttle.hit("t", "k", 100, window) for _ in range(25)))
        assert sorted(c.hits for c in counts) == list(range(1, 26))
        assert (await throttle.check("t", "k", 100, window)).hits == 26

    async def test_an_unreachable_redis_falls_back_to_the_database(self, world: World) -> None:
        from tests.conftest import port_of, reserved_socket
        from tests.services import setting

        nothing = reserved_socket()  # connections refused, and the port no one else's
        with nothing, setting("redis_url", f"redis://127.0.0.1:{port_of(nothing)}/0"):
            first = await throttle.hit("t", "k", 1, dt.timedelta(minutes=5))
            second = await throttle.hit("t", "k", 1, dt.timedelta(minutes=5))
        assert (first.over, second.over) == (False, True)

    def test_ipv6_clients_are_counted_per_64(self) -> None:
        a = throttle.client_address({"client": ("2001:db8:1:2:aaaa::1", 1)})
        b = throttle.client_address({"client": ("2001:db8:1:2:bbbb::9", 1)})
        assert a == b == "2001:db8:1:2::/64"
        assert throttle.client_address({"client": ("::ffff:192.0.2.1", 1)}) == "192.0.2.1"
