"""piccolo's PostgreSQL engine with one pooled connection held for a whole page.

piccolo takes a connection from the pool for every query and gives it back after: on top of
the query, the pool's `setup` (the scope's settings, `apply_scope`) cost a round trip per query
whenever the connection last served another consortium, and its reset on release another. A
page of ten queries made up to thirty round trips.

`HeldConnection` wraps each GET and HEAD request: its first query takes a connection, the
following ones and its transactions reuse it, and it goes back to the pool when the response
starts (a slow download does not keep it). Other requests, POST uploads included (their body
may take minutes to arrive), and jobs, keep a connection per query or transaction. Two queries
of one request at once (`asyncio.gather`) do not share it: the second takes its own.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

import asyncpg
from piccolo.engine.postgres import PostgresEngine, PostgresTransaction
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.core import scope, transactions

# The scope each connection last received, session-wide: `apply_scope` sets it only when it
# differs, most acquires following one of the same consortium.
_APPLIED: weakref.WeakKeyDictionary[Any, tuple[str, str]] = weakref.WeakKeyDictionary()


async def apply_scope(connection: Any) -> None:
    """Row-level security reads the scope of the task from these two settings."""
    settings = scope.current().settings()
    raw = getattr(connection, "_con", connection)  # the pool hands out a proxy
    if _APPLIED.get(raw) == settings:
        return
    await connection.execute(scope.SET_SQL, *settings, False)
    _APPLIED[raw] = settings


async def keep_session(connection: Any) -> None:
    """Replaces asyncpg's reset on release (`RESET ALL` and three more statements: a round trip
    per query). What it would undo does not outlive a use here: an open transaction (asyncpg
    rolls it back before calling this), cursors (inside transactions only), LISTEN and
    session advisory locks (never taken on a pooled connection); and the scope settings,
    which `apply_scope` sets again at the next acquire when they differ."""


class _Held:
    """The connection of one request, taken at its first query."""

    __slots__ = ("busy", "connection", "done")

    def __init__(self) -> None:
        self.connection: Any = None
        self.busy = False  # a query or a transaction is using it
        self.done = False  # the response has started: no more holding

    def usable(self) -> bool:
        return not (self.busy or self.done)

    async def take(self, pool: Any) -> Any:
        self.busy = True
        try:
            if self.connection is not None and _lost(self.connection):
                self.connection, lost = None, self.connection
                await _give_back(pool, lost)
            if self.connection is None:
                self.connection = await pool.acquire()  # `setup` applies the scope
            else:
                await apply_scope(self.connection)  # it may have changed since
        except BaseException:
            self.busy = False
            raise
        return self.connection

    async def give_back(self, pool: Any, broken: bool = False) -> None:
        self.busy = False
        connection = self.connection
        if connection is not None and (broken or self.done or _lost(connection)):
            self.connection = None
            await _give_back(pool, connection)

    async def finish(self, pool: Any) -> None:
        """The response has started: no more holding; a query still running gives it back."""
        self.done = True
        if not self.busy:
            await self.give_back(pool)

    async def drop(self, pool: Any) -> None:
        """After a failed BEGIN or COMMIT: its state is unknown, the pool resets or ends it."""
        self.busy, connection, self.connection = False, self.connection, None
        if connection is not None:
            await _give_back(pool, connection)


def _lost(proxy: Any) -> bool:
    # When a lent connection closes (server restart, terminated backend), asyncpg's pool takes
    # it back at once and detaches it from the proxy it lent.
    return getattr(proxy, "_con", None) is None or bool(proxy.is_closed())


async def _give_back(pool: Any, proxy: Any) -> None:
    if getattr(proxy, "_con", None) is not None:  # else the pool has it back already
        await pool.release(proxy)  # a closed one is replaced by the pool


_held: ContextVar[_Held | None] = ContextVar("portal_held_connection", default=None)


def _usable_held() -> _Held | None:
    held = _held.get()
    return held if held is not None and held.usable() else None


class HeldPostgresEngine(PostgresEngine):
    async def _run_in_pool(self, query: str, args: Any = None) -> Any:
        held = _usable_held()
        if held is None or self.pool is None:
            return await super()._run_in_pool(query, args)
        connection = await held.take(self.pool)
        broken = True
        try:
            result = await connection.fetch(query, *(args or []))
            broken = False
            return result
        except asyncpg.PostgresError:
            broken = False  # the server refused the query: the connection is fine
            raise
        finally:
            # Lost, cancelled or timed out mid-query: back to the pool, which resets or ends it.
            await held.give_back(self.pool, broken)

    def transaction(self, allow_nested: bool = True) -> PostgresTransaction:
        return _HeldTransaction(engine=self, allow_nested=allow_nested)


class _HeldTransaction(PostgresTransaction):
    """piccolo's transaction, on the request's held connection when it is free."""

    engine: HeldPostgresEngine
    held: _Held | None = None

    async def get_connection(self) -> Any:
        held = _usable_held()
        if held is None or self.engine.pool is None:
            return await super().get_connection()  # type: ignore[no-untyped-call]
        connection = await held.take(self.engine.pool)
        self.held = held
        return connection

    async def abandon(self) -> None:
        """Gives the connection up after a failed BEGIN, COMMIT or ROLLBACK."""
        if self.held is not None:
            await self.held.drop(self.engine.pool)
        elif self.engine.pool is not None:
            await self.engine.pool.release(self.connection)

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        if self.held is None:
            result: bool = await super().__aexit__(exception_type, exception, traceback)
            return result
        held, pool = self.held, self.engine.pool
        return await transactions.end(self, exception, lambda: held.give_back(pool))


class HeldConnection:
    """ASGI middleware: one connection for the queries of a GET or HEAD request."""

    def __init__(self, app: ASGIApp, engine: Callable[[], Any]) -> None:
        self.app = app
        self.engine = engine  # piccolo's engine is found when the app runs, not when built

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        engine = self.engine()
        if (
            scope["type"] != "http"
            or scope["method"] not in {"GET", "HEAD"}
            or not isinstance(engine, HeldPostgresEngine)
        ):
            await self.app(scope, receive, send)
            return
        held = _Held()
        token = _held.set(held)

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start" and engine.pool is not None:
                await held.finish(engine.pool)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            _held.reset(token)
            if engine.pool is not None:
                await held.finish(engine.pool)
