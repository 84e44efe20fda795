"""Database lifecycle: migrations, connection pool, and the per-request transaction."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator
from typing import Any

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.engine import engine_finder
from piccolo.engine.base import Engine
from piccolo.engine.sqlite import TransactionType


def engine() -> Engine:  # type: ignore[type-arg]
    found = engine_finder()
    if found is None:  # pragma: no cover - piccolo_conf always defines DB
        raise RuntimeError("Aucun moteur de base de données configuré.")
    return found


async def migrate() -> None:
    """Apply pending migrations of every app, in dependency order."""
    # Piccolo prints headings on stdout; `portal demo` output must stay machine-readable.
    with contextlib.redirect_stdout(io.StringIO()) as out:
        result = await run_forwards(app_name="all")
    if not result.success:
        raise RuntimeError(f"Échec des migrations : {result.message}\n{out.getvalue()}")


async def start() -> None:
    db = engine()
    if db.engine_type == "postgres":
        # Keyword arguments go to asyncpg.create_pool.
        await db.start_connection_pool(max_size=10)  # type: ignore[no-untyped-call, call-arg]
    else:
        # Write-ahead log: a long read (an export's cursor) no longer blocks the writes of the
        # same process (web requests and jobs share the file). Kept in the file once set.
        await db.run_ddl("PRAGMA journal_mode=WAL")


async def stop() -> None:
    db = engine()
    if db.engine_type == "postgres":
        await db.close_connection_pool()  # type: ignore[no-untyped-call]


@contextlib.asynccontextmanager
async def transaction() -> AsyncIterator[None]:
    """One transaction; nested calls join the outer one (services never commit themselves)."""
    async with engine().transaction(allow_nested=True):
        yield


@contextlib.asynccontextmanager
async def locked(query: Any) -> AsyncIterator[dict[str, Any] | None]:
    """One transaction holding the row a SELECT finds (None: no row): `SELECT … FOR UPDATE`
    on PostgreSQL, where web and worker processes run side by side; on SQLite an immediate
    transaction, which takes the database's write lock at once."""
    db = engine()
    if db.engine_type == "postgres":
        async with db.transaction(allow_nested=True):
            yield await query.lock_rows().first()
    else:
        async with db.transaction(allow_nested=True, transaction_type=TransactionType.immediate):
            yield await query.first()


async def stream(query: Any, batch_size: int = 1000) -> AsyncIterator[list[dict[str, Any]]]:
    """The rows of a SELECT in batches, from a database cursor on a connection of its own:
    never all rows in memory. (piccolo's `batch()` passes its parameters wrongly to SQLite and
    swallows exceptions raised in its block, in piccolo 1.38; this does neither.)"""
    db = engine()
    if db.engine_type == "postgres":
        template, args = query.querystrings[0].compile_string(engine_type="postgres")
        connection = await db.get_new_connection()  # type: ignore[attr-defined]
        try:
            async with connection.transaction():  # a server-side cursor lives in one
                batch: list[Any] = []
                async for record in connection.cursor(template, *args, prefetch=batch_size):
                    batch.append(record)
                    if len(batch) == batch_size:
                        yield await query._process_results(batch)
                        batch = []
                if batch:
                    yield await query._process_results(batch)
        finally:
            await connection.close()
        return
    template, args = query.querystrings[0].compile_string(engine_type="sqlite")
    connection = await db.get_connection()  # type: ignore[attr-defined]
    try:
        cursor = await connection.execute(template, args)
        try:
            while rows := await cursor.fetchmany(batch_size):
                yield await query._process_results(rows)
        finally:
            await cursor.close()
    finally:
        await connection.close()
