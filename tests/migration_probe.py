"""Run by `tests/test_migrations.py` in a process of its own, on a database of its own:
`PORTAL_DATABASE_URL=… python -m tests.migration_probe REPORT.json`.

The settings, and piccolo's engine with them, are read once per process, so a second database
needs a second process. The database is created empty (PostgreSQL: dropped and re-created, then
dropped at the end). The report is JSON: what each step found, for the test to judge.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import json
import os
import sys
from pathlib import Path
from typing import Any

import asyncpg


async def _admin(url: str, *statements: str) -> None:
    connection = await asyncpg.connect(url.rsplit("/", 1)[0] + "/postgres")
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _database_name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


async def _rows(query: str, *args: Any) -> list[dict[str, Any]]:
    from piccolo.querystring import QueryString

    from portal.core import db

    return [dict(row) for row in await db.engine().run_querystring(QueryString(query, *args))]


async def schema() -> dict[str, Any]:
    """Tables with their columns, indexes, constraints, triggers and functions, as lists of
    strings: two schemas compare equal when the databases are built alike."""
    from portal.core import db

    if db.engine().engine_type == "postgres":
        columns = await _rows(
            "SELECT table_name AS t, column_name AS c, data_type AS type, is_nullable AS n, "
            "column_default AS d FROM information_schema.columns "
            "WHERE table_schema = current_schema()"
        )
        indexes = await _rows(
            "SELECT tablename AS t, indexname AS name, indexdef AS sql FROM pg_indexes "
            "WHERE schemaname = current_schema()"
        )
        constraints = await _rows(
            "SELECT table_name AS t, constraint_name AS name, constraint_type AS type "
            "FROM information_schema.table_constraints "
            "WHERE table_schema = current_schema() AND constraint_type <> 'CHECK'"
        )
        triggers = await _rows(
            "SELECT event_object_table AS t, trigger_name AS name, event_manipulation AS event "
            "FROM information_schema.triggers WHERE trigger_schema = current_schema()"
        )
        functions = await _rows(
            "SELECT p.proname AS name FROM pg_proc p JOIN pg_namespace n "
            "ON n.oid = p.pronamespace WHERE n.nspname = current_schema()"
        )
    else:
        tables = await _rows(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        columns = []
        for table in tables:
            for column in await _rows(
                'SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info({})',
                table["name"],
            ):
                columns.append({"t": table["name"], **column})
        indexes = await _rows(
            "SELECT tbl_name AS t, name, sql FROM sqlite_master WHERE type = 'index'"
        )
        constraints = []
        for table in tables:
            for key in await _rows(
                'SELECT "table", "from", "to", on_update, on_delete '
                "FROM pragma_foreign_key_list({})",
                table["name"],
            ):
                constraints.append({"t": table["name"], **key})
        triggers = await _rows(
            "SELECT tbl_name AS t, name FROM sqlite_master WHERE type = 'trigger'"
        )
        functions = []
    return {
        "tables": sorted({row["t"] for row in columns}),
        "columns": sorted(json.dumps(row, sort_keys=True, default=str) for row in columns),
        "indexes": sorted(json.dumps(row, sort_keys=True) for row in indexes),
        "constraints": sorted(json.dumps(row, sort_keys=True) for row in constraints),
        "triggers": sorted(json.dumps(row, sort_keys=True) for row in triggers),
        "functions": sorted(row["name"] for row in functions),
    }


async def drift() -> dict[str, list[str]]:
    """What `piccolo migrations new APP --auto` would write, per app (it writes nothing when
    this is empty): the operations that bring the migrations' snapshot to the tables."""
    from piccolo.apps.migrations.commands.new import AutoMigrationManager
    from piccolo.conf.apps import Finder

    found = {}
    for name, app_config in Finder().get_app_registry().app_configs.items():
        # "n": a table or column gone and another come is not taken for a rename.
        manager = AutoMigrationManager(auto_input="n")
        statements = await manager.get_alter_statements(app_config=app_config)
        found[name] = [line for group in statements for line in group.statements]
    return found


def declared_columns() -> dict[str, list[str]]:
    """Each table's columns as the table classes declare them."""
    from piccolo.conf.apps import Finder

    return {
        table._meta.tablename: sorted(c._meta.db_column_name for c in table._meta.columns)
        for table in Finder().get_table_classes()
    }


async def rerun_raw_steps() -> list[str]:
    """Runs again the forward SQL of every hand-written migration; returns their IDs."""
    from piccolo.apps.migrations.commands.base import BaseMigrationManager
    from piccolo.conf.apps import Finder

    from portal.core import db

    ran = []
    for app_config in Finder().get_app_registry().app_configs.values():
        modules = BaseMigrationManager().get_migration_modules(
            app_config.resolved_migrations_folder_path
        )
        for migration_id, module in sorted(modules.items()):
            manager = await module.forwards()
            if manager.raw:
                async with db.engine().transaction():
                    for step in manager.raw:
                        result = step()
                        if inspect.isawaitable(result):
                            await result
                ran.append(f"{app_config.app_name} {migration_id}")
    return ran


async def recorded_migrations() -> list[str]:
    from piccolo.apps.migrations.tables import Migration

    rows = await Migration.select(Migration.app_name, Migration.name)
    return sorted(f"{row['app_name']} {row['name']}" for row in rows)


async def probe() -> dict[str, Any]:
    from piccolo.apps.migrations.commands.backwards import run_backwards
    from piccolo.apps.migrations.tables import Migration

    from portal.core import db

    report: dict[str, Any] = {"engine": db.engine().engine_type, "start": await schema()}
    report["drift"] = await drift()
    report["declared"] = declared_columns()

    await db.migrate()
    report["forwards"] = await schema()
    report["recorded"] = await recorded_migrations()

    report["rerun"] = await rerun_raw_steps()
    report["after_rerun"] = await schema()

    result = await run_backwards("all", auto_agree=True)
    assert result.success, result.message
    report["backwards"] = await schema()
    report["recorded_after_backwards"] = await recorded_migrations()

    await db.migrate()
    report["forwards_again"] = await schema()

    # A database migrated while two apps shared IDs records the old ones.
    for app, old, new in db.RENAMED_MIGRATIONS:
        await Migration.update({Migration.name: old}).where(
            (Migration.app_name == app) & (Migration.name == new)
        )
    await db.migrate()
    report["recorded_after_rename"] = await recorded_migrations()
    report["after_rename"] = await schema()
    return report


async def main() -> dict[str, Any]:
    url = os.environ["PORTAL_DATABASE_URL"]
    on_postgres = url.startswith("postgres")
    name = _database_name(url)
    if on_postgres:
        # Before the portal is imported: piccolo's engine asks the server its version then.
        await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await _admin(url, f'CREATE DATABASE "{name}"')
    from portal.core import db

    try:
        await db.start()  # a pool: PostgreSQL connections are slow to open
        with contextlib.redirect_stdout(io.StringIO()):  # piccolo's progress lines
            report = await probe()
        await db.stop()
    finally:
        if on_postgres:
            await _admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return report


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(json.dumps(asyncio.run(main())), encoding="utf-8")
