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
