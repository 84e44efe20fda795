"""piccolo's SQLite engine with its connections kept between queries.

piccolo (1.38) opens a new SQLite connection, and aiosqlite a new thread, for every query and
every transaction, then sets `PRAGMA foreign_keys` before each statement: three to five thread
round trips for one SELECT. Here a released connection waits, idle, for the next query of any
task; one is opened when none is idle, as before (no limit, no waiting). A connection still
inside a transaction (a failed ROLLBACK) is never reused.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import aiosqlite
from piccolo.engine.sqlite import SQLiteEngine, SQLiteTransaction, TransactionType, dict_factory

from portal.core import transactions

# Kept idle at most: more are opened under load and closed when released.
IDLE = 8


class PooledSQLiteEngine(SQLiteEngine):
    __slots__ = ("_idle",)

    def __init__(self, path: str, **connection_kwargs: Any) -> None:
        if sqlite3.sqlite_version_info < (3, 35):
            # Queries read inserted rows back with RETURNING (piccolo's path for older ones,
            # a second SELECT per insert, is not kept here).
            raise RuntimeError(f"SQLite 3.35 ou plus récent requis ({sqlite3.sqlite_version}).")
        super().__init__(path=path, **connection_kwargs)
        self._idle: list[aiosqlite.Connection] = []

    async def get_connection(self) -> aiosqlite.Connection:
        while self._idle:
            connection = self._idle.pop()
            if connection._connection is not None:  # not closed meanwhile
                return connection
        connection = aiosqlite.connect(**self.connection_kwargs)
        # aiosqlite's thread would keep a process alive after its loop ends (a command that
        # never calls `db.stop()`); as a daemon it ends with the process.
        connection._thread.daemon = True
        await connection
        connection.row_factory = dict_factory  # type: ignore[assignment]
        await connection.execute("PRAGMA foreign_keys = 1")  # per connection, outside any BEGIN
        return connection

    def release(self, connection: aiosqlite.Connection) -> None:
        usable = connection._connection is not None and not connection.in_transaction
        if usable and len(self._idle) < IDLE:
            self._idle.append(connection)
        else:
            connection.stop()  # closes it in its thread, which then ends

    async def close_idle(self) -> None:
        # Awaited, not `stop()`: the thread answers the closing loop, which must still run
        # (a run whose last queries were a test's clean-up ended on "Event loop is closed").
        while self._idle:
            await self._idle.pop().close()

    async def _run_in_new_connection(
        self,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        connection = await self.get_connection()
        try:
            # Autocommit (isolation_level=None): the statement is its own transaction.
            return await connection.execute_fetchall(query, args or [])
        finally:
            self.release(connection)

    async def _run_in_existing_connection(
        self,
        connection: Any,
        query: str,
        args: list[Any] | None = None,
        query_type: str = "generic",
        table: Any = None,
    ) -> Any:
        return await connection.execute_fetchall(query, args or [])

    def transaction(
        self,
        transaction_type: TransactionType = TransactionType.deferred,
        allow_nested: bool = True,
    ) -> SQLiteTransaction:
        return _PooledTransaction(
            engine=self, transaction_type=transaction_type, allow_nested=allow_nested
        )


class _PooledTransaction(SQLiteTransaction):
    """piccolo's transaction, giving its connection back instead of closing it."""

    engine: PooledSQLiteEngine

    async def __aexit__(self, exception_type: Any, exception: Any, traceback: Any) -> bool:
        async def give_back() -> None:
            self.engine.release(self.connection)

        return await transactions.end(self, exception, give_back)
