"""Hand-written migrations: plain SQL that runs forwards and backwards, and may run twice.

piccolo's generator (`piccolo migrations new --auto`) compares the tables with a snapshot built
from the operations the migrations declare (`add_table`, `add_column`…); it cannot read SQL. A
migration whose SQL creates a table or a column declares them as well, on a
`SqlMigrationManager`, which runs only its SQL. (piccolo would run its raw steps before the
declared operations, and the DDL it derives differs from the SQL: column types on SQLite, a
default on PostgreSQL. Databases migrated before must stay identical to new ones.)
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder
from piccolo.querystring import QueryString


class SqlMigrationManager(MigrationManager):
    """Runs its raw steps (`add_raw`, `add_raw_backwards`), in one transaction, and nothing of
    what it declares: the declarations are there for piccolo's snapshot only."""

    async def run(self, backwards: bool = False) -> None:
        direction = ("preview " if self.preview else "") + (
            "backwards" if backwards else "forwards"
        )
        print(f"  - {self.migration_id} [{direction}]... ", end="")  # as piccolo does
        if self.preview:
            return
        engine = engine_finder()
        if engine is None:  # pragma: no cover - piccolo_conf always defines DB
            raise RuntimeError("Aucun moteur de base de données configuré.")
        async with engine.transaction():
            for step in self.raw_backwards if backwards else self.raw:
                result = step()
                if inspect.isawaitable(result):
                    await result


async def has_column(table: str, column: str) -> bool:
    """True when `table` has `column`. SQLite has no `ADD COLUMN IF NOT EXISTS` nor
    `DROP COLUMN IF EXISTS`: a migration asks first."""
    engine = engine_finder()
    if engine is None:  # pragma: no cover - piccolo_conf always defines DB
        raise RuntimeError("Aucun moteur de base de données configuré.")
    if engine.engine_type == "postgres":
        query = QueryString(
            "SELECT 1 FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = {} AND column_name = {}",
            table,
            column,
        )
    else:
        query = QueryString("SELECT 1 FROM pragma_table_info({}) WHERE name = {}", table, column)
    return bool(await engine.run_querystring(query))


@dataclass(frozen=True)
class SameConsortium:
    """A child row's `column` names a `parent` row of the child's own consortium: a composite
    foreign key `(consortium, column) → parent (consortium, id)`, on PostgreSQL. (SQLite
    cannot add a constraint to a table; its index is created all the same.)"""

    table: str
    column: str
    parent: str

    @property
    def constraint(self) -> str:
        return f"{self.table}_{self.column}_same_consortium"

    @property
    def index(self) -> str:
        return f"{self.table}_consortium_{self.column}"


def consortium_keys(
    manager: MigrationManager,
    parents: Sequence[str] = (),
    children: Sequence[SameConsortium] = (),
    indexes: Sequence[tuple[str, str, str]] = (),
) -> None:
    """Adds to `manager` the steps, both ways, that key `parents` by `(consortium, id)`, tie
    `children` to a parent of their consortium (each with its index, led by the consortium),
    and create `indexes` (name, table, columns). Each step may run twice."""

    async def run() -> None:
        engine = _engine()
        postgres = engine.engine_type == "postgres"
        for parent in parents:
            await engine.run_ddl(
                f"CREATE UNIQUE INDEX IF NOT EXISTS {parent}_consortium_id"
                f" ON {parent} (consortium, id)"
            )
        for name, table, columns in indexes:
            await engine.run_ddl(f"CREATE INDEX IF NOT EXISTS {name} ON {table} ({columns})")
        for child in children:
            await engine.run_ddl(
                f"CREATE INDEX IF NOT EXISTS {child.index}"
                f" ON {child.table} (consortium, {child.column})"
            )
            if postgres and not await _has_constraint(child.table, child.constraint):
                await engine.run_ddl(
                    f"ALTER TABLE {child.table} ADD CONSTRAINT {child.constraint}"
                    f" FOREIGN KEY (consortium, {child.column})"
                    f" REFERENCES {child.parent} (consortium, id)"
                )

    async def undo() -> None:
        engine = _engine()
        for child in reversed(children):
            if engine.engine_type == "postgres":
                await engine.run_ddl(
                    f"ALTER TABLE {child.table} DROP CONSTRAINT IF EXISTS {child.constraint}"
                )
            await engine.run_ddl(f"DROP INDEX IF EXISTS {child.index}")
        for name, _, _ in reversed(indexes):
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")
        for parent in reversed(parents):
            await engine.run_ddl(f"DROP INDEX IF EXISTS {parent}_consortium_id")

    manager.add_raw(run)
    manager.add_raw_backwards(undo)


def _engine() -> Any:
    engine = engine_finder()
    if engine is None:  # pragma: no cover - piccolo_conf always defines DB
        raise RuntimeError("Aucun moteur de base de données configuré.")
    return engine


async def _has_constraint(table: str, name: str) -> bool:
    query = QueryString(
        "SELECT 1 FROM pg_constraint WHERE conname = {} AND conrelid = {}::regclass", name, table
    )
    return bool(await _engine().run_querystring(query))
