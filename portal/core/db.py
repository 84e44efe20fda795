"""Database lifecycle: migrations, connection pool, and the per-request transaction."""

from __future__ import annotations

import contextlib
import io
import logging
import socket
import sqlite3
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
from piccolo.apps.migrations.tables import Migration
from piccolo.engine import engine_finder
from piccolo.engine.base import Engine
from piccolo.engine.sqlite import TransactionType

from portal.core import scope
from portal.core.outage import DatabaseUnavailable
from portal.core.pg import apply_scope, keep_session
from portal.core.sqlite import PooledSQLiteEngine
from portal.settings import get_settings

log = logging.getLogger("portal.db")
# Any fixed number: the key of the advisory lock that serialises migrations across processes.
MIGRATION_LOCK = 730_142_026
_SQLITE_OUTAGES = ("database is locked", "disk i/o error", "unable to open", "disk is full")


def engine() -> Engine:  # type: ignore[type-arg]
    found = engine_finder()
    if found is None:  # pragma: no cover - piccolo_conf always defines DB
        raise RuntimeError("Aucun moteur de base de données configuré.")
    return found


def _causes(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc` and what caused it, ten deep at most (drivers wrap their errors)."""
    seen = 0
    while exc is not None and seen < 10:
        yield exc
        exc = exc.__cause__ or exc.__context__
        seen += 1


def unavailable(exc: BaseException | None) -> bool:
    """True when `exc` (or what caused it) says the database did not answer: down, restarting,
    connection lost, as opposed to a query it refused."""
    for cause in _causes(exc):
        if isinstance(
            cause, DatabaseUnavailable | ConnectionError | TimeoutError | socket.gaierror
        ):
            return True
        if isinstance(cause, OSError) and "connect call failed" in str(cause).lower():
            return True  # asyncpg, when every address of the host refused
        if isinstance(
            cause,
            asyncpg.PostgresConnectionError
            | asyncpg.InterfaceError
            # "cannot switch to state …": a pooled connection the server dropped mid-query.
            | asyncpg.exceptions.InternalClientError
            | asyncpg.CannotConnectNowError
            | asyncpg.AdminShutdownError
            | asyncpg.CrashShutdownError
            | asyncpg.TooManyConnectionsError,
        ):
            return True
        if isinstance(cause, sqlite3.OperationalError) and any(
            text in str(cause).lower() for text in _SQLITE_OUTAGES
        ):
            return True
    return False


def unique_violation(exc: BaseException | None) -> bool:
    """True when `exc` (or what caused it) is a unique constraint refusing a duplicate: two
    requests raced past the same "is it taken?" check."""
    return any(
        isinstance(cause, asyncpg.UniqueViolationError)
        or (isinstance(cause, sqlite3.IntegrityError) and "unique" in str(cause).lower())
        for cause in _causes(exc)
    )


async def migrate() -> None:
    """Apply pending migrations of every app, in dependency order. On PostgreSQL an advisory
    lock makes processes started together (web replicas, workers) apply them one at a time.
    Runs before anything else of its process: as the schema's owner, see `_as_owner`."""
    # Imported here: piccolo's migration commands bring in `black` and the auto-migration
    # machinery (0.3 s), which processes that do not migrate (uvicorn's workers) never use.
    from piccolo.apps.migrations.commands.forwards import run_forwards

    db = engine()
    async with _as_owner(db), scope.platform_scope("migrations may rewrite any consortium's rows"):
        lock = None
        if db.engine_type == "postgres":
            lock = await db.get_new_connection()  # type: ignore[attr-defined]
            await lock.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
        try:
            await _rename_migrations()
            # Piccolo prints headings on stdout; `portal demo` output must stay machine-readable.
            with contextlib.redirect_stdout(io.StringIO()) as out:
                result = await run_forwards(app_name="all")
        finally:
            if lock is not None:
                await lock.close()  # the lock goes with the session
    if not result.success:
        raise RuntimeError(f"Échec des migrations : {result.message}\n{out.getvalue()}")


# (app, old ID, new ID): migrations that once had the ID of another app's. piccolo's backwards
# deletes a migration's record by ID alone, so undoing one erased the other's record as well.
# Databases migrated before the IDs were made unique still record the old ones.
RENAMED_MIGRATIONS = (
    ("tenants", "2026-12-01T17:11:00:000000", "2026-12-01T17:11:01:000000"),
    ("tenants", "2026-12-01T17:21:00:000000", "2026-12-01T17:21:01:000000"),
)


async def _rename_migrations() -> None:
    if not await Migration.table_exists().run():
        return  # a new database
    for app, old, new in RENAMED_MIGRATIONS:
        await (
            Migration.update({Migration.name: new})
            .where((Migration.app_name == app) & (Migration.name == old))
            .run()
        )


@contextlib.asynccontextmanager
async def _as_owner(db: Any) -> AsyncIterator[None]:
    """With `PORTAL_MIGRATION_DATABASE_URL`, migrations connect as that role (the owner of the
    tables), the portal's own role having no right to change the schema: a pool of its own,
    swapped in while they run (piccolo's migrations use the engine's pool and settings)."""
    url = get_settings().migration_database_url
    if db.engine_type != "postgres" or not url:
        yield
        return
    saved = db.config, db.pool
    owner = await asyncpg.create_pool(
        dsn=url, min_size=1, max_size=2, setup=apply_scope, reset=keep_session
    )
    db.config, db.pool = {"dsn": url}, owner
    try:
        yield
    finally:
        db.config, db.pool = saved
        await owner.close()


async def ping() -> None:
    await engine().run_ddl("SELECT 1")


async def start() -> None:
    db = engine()
    if db.engine_type == "postgres":
        # Keyword arguments go to asyncpg.create_pool. `setup` runs at each acquire, in the
        # acquiring task: the connection shows that task's scope.
        await db.start_connection_pool(  # type: ignore[no-untyped-call, call-arg]
            max_size=10, setup=apply_scope, reset=keep_session
        )
    else:
        # Write-ahead log: a long read (an export's cursor) no longer blocks the writes of the
        # same process (web requests and jobs share the file). Kept in the file once set.
        await db.run_ddl("PRAGMA journal_mode=WAL")


async def stop() -> None:
    db = engine()
    if db.engine_type == "postgres":
        await db.close_connection_pool()  # type: ignore[no-untyped-call]
    elif isinstance(db, PooledSQLiteEngine):
        await db.close_idle()


def in_transaction() -> bool:
    return engine().current_transaction.get() is not None


@contextlib.asynccontextmanager
async def transaction(immediate: bool = False) -> AsyncIterator[None]:
    """One transaction; nested calls join the outer one (services never commit themselves).
    `immediate`: on SQLite, take the write lock at once (see `locked`)."""
    db = engine()
    if db.current_transaction.get() is not None:
        yield
        return
    options: dict[str, Any] = {}
    if immediate and db.engine_type == "sqlite":
        options["transaction_type"] = TransactionType.immediate
    tx: Any = db.transaction(**options)
    try:
        await tx.__aenter__()
    except BaseException:
        # BEGIN failed on a connection piccolo already took from the pool: give it back.
        await _abandon(db, tx)
        raise
    try:
        yield
    except BaseException as exc:
        await _close(db, tx, exc)
        raise
    await _close(db, tx, None)


async def _close(db: Any, tx: Any, exc: BaseException | None) -> None:
    try:
        await tx.__aexit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)
    except BaseException:
        # piccolo neither releases the connection nor leaves the context when the commit, the
        # rollback or the release fails (connection lost): the pool would lose a connection
        # and every later query of this task would use the dead one.
        await _abandon(db, tx)
        raise


async def _abandon(db: Any, tx: Any) -> None:
    connection = getattr(tx, "connection", None)
    if connection is not None:
        with contextlib.suppress(Exception):
            if hasattr(tx, "abandon"):  # a request's held connection (`portal.core.pg`)
                await tx.abandon()
            elif db.engine_type == "postgres" and db.pool:
                await db.pool.release(connection)
            else:
                await connection.close()
    with contextlib.suppress(ValueError, LookupError, AttributeError):
        db.current_transaction.reset(tx.context)


@contextlib.asynccontextmanager
async def locked(query: Any) -> AsyncIterator[dict[str, Any] | None]:
    """One transaction holding the row a SELECT finds (None: no row): `SELECT … FOR UPDATE`
    on PostgreSQL, where web and worker processes run side by side; on SQLite an immediate
    transaction, which takes the database's write lock at once."""
    async with transaction(immediate=True):
        if engine().engine_type == "postgres":
            yield await query.lock_rows().first()
        else:
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
            await apply_scope(connection)  # not from the pool: it gets the scope here
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
        db.release(connection)  # type: ignore[attr-defined]
