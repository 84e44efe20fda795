"""Database lifecycle: migrations, connection pool, and the per-request transaction."""

from __future__ import annotations

import contextlib
import io
from collections.abc import AsyncIterator

from piccolo.apps.migrations.commands.forwards import run_forwards
from piccolo.engine import engine_finder
from piccolo.engine.base import Engine


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


async def stop() -> None:
    db = engine()
    if db.engine_type == "postgres":
        await db.close_connection_pool()  # type: ignore[no-untyped-call]


@contextlib.asynccontextmanager
async def transaction() -> AsyncIterator[None]:
    """One transaction; nested calls join the outer one (services never commit themselves)."""
    async with engine().transaction(allow_nested=True):
        yield
