"""Database connections kept between queries: SQLite's idle connections (`portal.core.sqlite`)
and, on PostgreSQL, one connection per page (`portal.core.pg`), which must follow every change
of scope since row-level security reads it from the connection."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from portal.core import db, scope
from portal.core.pg import HeldConnection, _held, _lost
from tests.conftest import World, login

SETTINGS = "SELECT current_setting('portal.consortium', true) AS consortium"


def count_calls(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    calls = [0]
    original = getattr(owner, name)

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


class CountingPool:
    def __init__(self, pool: Any) -> None:
        self.pool, self.acquired = pool, [0]

    def acquire(self, *args: Any, **kwargs: Any) -> Any:
        self.acquired[0] += 1
        return self.pool.acquire(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)


def count_acquires(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times the pool lends a connection (asyncpg's `Pool` cannot be patched)."""
    engine = db.engine()
    counting = CountingPool(engine.pool)  # type: ignore[attr-defined]
    monkeypatch.setattr(engine, "pool", counting)
    return counting.acquired


@pytest.mark.sqlite_only
class TestSqliteConnections:
    async def test_queries_and_transactions_reuse_one_connection(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import aiosqlite

        opened = count_calls(monkeypatch, aiosqlite, "connect")
        for _ in range(50):
            await db.engine().run_ddl("SELECT count(*) FROM auth_user")
            async with db.transaction():
                await db.engine().run_ddl("SELECT count(*) FROM auth_user")
        assert opened[0] <= 1

    async def test_a_connection_left_inside_a_transaction_is_not_reused(self) -> None:
        engine = db.engine()
        connection = await engine.get_connection()  # type: ignore[attr-defined]
        await connection.execute("BEGIN")
        engine.release(connection)  # type: ignore[attr-defined]
        again = await engine.get_connection()  # type: ignore[attr-defined]
        assert again is not connection
        assert not again.in_transaction
        engine.release(again)  # type: ignore[attr-defined]

    async def test_stopping_closes_the_idle_connections_before_it_returns(
        self, tmp_path: Path
    ) -> None:
        # A command or a test run ends its loop right after `db.stop()`: a connection whose
        # thread closes it later finds the loop gone ("Event loop is closed", exit status 1).
        from portal.core.sqlite import PooledSQLiteEngine

        engine = PooledSQLiteEngine(path=str(tmp_path / "seul.sqlite3"))
        await engine.run_ddl("SELECT 1")
        [idle] = engine._idle
        await engine.close_idle()
        assert idle._connection is None and engine._idle == []


def probe_app(steps: list[tuple[str, uuid.UUID | None]]) -> Callable[..., Any]:
    """A page that reads the consortium setting under several scopes in turn."""

    async def page(request: Request) -> JSONResponse:
        seen = []
        for kind, consortium in steps:
            if kind == "platform":
                async with scope.platform_scope("a test reads the setting"):
                    seen.append((await db.engine().run_ddl(SETTINGS))[0]["consortium"])
            elif kind == "transaction":
                async with scope.consortium_scope(consortium), db.transaction():
                    seen.append((await db.engine().run_ddl(SETTINGS))[0]["consortium"])
            else:
                async with scope.consortium_scope(consortium):
                    seen.append((await db.engine().run_ddl(SETTINGS))[0]["consortium"])
        return JSONResponse(seen)

    return HeldConnection(Starlette(routes=[Route("/", page, methods=["GET", "POST"])]), db.engine)


async def ask(app: Any, method: str = "GET") -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return await c.request(method, "/")


@pytest.mark.postgres_only
class TestOneConnectionPerPage:
    async def test_a_page_s_queries_take_one_connection_and_post_keeps_one_per_query(
        self, world: World, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await login(client, world.tenant.pilot.email)
        acquired = count_acquires(monkeypatch)
        page = await client.get(f"/c/{world.tenant.slug}/conventions")
        assert page.status_code == 200
        assert acquired[0] == 1
        acquired[0] = 0
        app = probe_app([("consortium", world.tenant.id)] * 3)
        assert (await ask(app, "POST")).status_code == 200
        assert acquired[0] == 3

    async def test_the_held_connection_follows_every_change_of_scope(self, world: World) -> None:
        a, b = world.tenant.id, world.other_tenant.id
        steps: list[tuple[str, uuid.UUID | None]] = [
            ("consortium", a),
            ("consortium", b),
            ("transaction", a),
            ("consortium", None),
            ("transaction", b),
            ("consortium", a),
        ]
        app = probe_app(steps)
        seen = (await ask(app)).json()
        assert seen == [str(a), str(b), str(a), "", str(b), str(a)]

    async def test_a_connection_lost_or_cancelled_mid_page_is_replaced(self, world: World) -> None:
        def pid() -> Any:
            return db.engine().run_ddl("SELECT pg_backend_pid() AS pid")

        async def page(request: Request) -> JSONResponse:
            pids = []
            async with scope.consortium_scope(world.tenant.id):
                pids.append((await pid())[0]["pid"])
                # Lost: its backend terminated; the pool takes such a connection back itself.
                killer = await db.engine().get_new_connection()  # type: ignore[attr-defined]
                await killer.execute("SELECT pg_terminate_backend($1)", pids[-1])
                await killer.close()
                for _ in range(100):
                    if _lost(_held.get().connection):  # type: ignore[union-attr]
                        break
                    await asyncio.sleep(0.05)
                pids.append((await pid())[0]["pid"])
                # Cancelled: a query given up half-way leaves its connection busy.
                with pytest.raises(TimeoutError):
                    await asyncio.wait_for(db.engine().run_ddl("SELECT pg_sleep(5)"), 0.2)
                pids.append((await pid())[0]["pid"])
                setting = await db.engine().run_ddl(SETTINGS)
            return JSONResponse({"pids": pids, "consortium": setting[0]["consortium"]})

        app = HeldConnection(Starlette(routes=[Route("/", page)]), db.engine)
        answer = (await ask(app)).json()
        lost, after_loss, after_cancel = answer["pids"]
        assert lost != after_loss and after_cancel  # a new one; then one the pool has reset
        assert answer["consortium"] == str(world.tenant.id)
