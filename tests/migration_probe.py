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


_OF_EACH_TABLE = (
    "FROM sqlite_master m JOIN {}(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'"
)
SCHEMA_QUERIES = {
    "postgres": {
        "columns": "SELECT table_name AS t, column_name AS c, data_type AS type, "
        "is_nullable AS n, column_default AS d FROM information_schema.columns "
        "WHERE table_schema = current_schema()",
        "indexes": "SELECT tablename AS t, indexname AS name, indexdef AS sql FROM pg_indexes "
        "WHERE schemaname = current_schema()",
        "constraints": "SELECT table_name AS t, constraint_name AS name, constraint_type AS type "
        "FROM information_schema.table_constraints "
        "WHERE table_schema = current_schema() AND constraint_type <> 'CHECK'",
        "triggers": "SELECT event_object_table AS t, trigger_name AS name, "
        "event_manipulation AS event FROM information_schema.triggers "
        "WHERE trigger_schema = current_schema()",
        "functions": "SELECT p.proname AS name FROM pg_proc p JOIN pg_namespace n "
        "ON n.oid = p.pronamespace WHERE n.nspname = current_schema()",
    },
    "sqlite": {
        "columns": 'SELECT m.name AS t, p.name AS c, p.type, p."notnull", p.dflt_value, p.pk '
        + _OF_EACH_TABLE.format("pragma_table_info"),
        "indexes": "SELECT tbl_name AS t, name, sql FROM sqlite_master WHERE type = 'index'",
        "constraints": 'SELECT m.name AS t, p."table", p."from", p."to", p.on_update, '
        "p.on_delete " + _OF_EACH_TABLE.format("pragma_foreign_key_list"),
        "triggers": "SELECT tbl_name AS t, name FROM sqlite_master WHERE type = 'trigger'",
        "functions": "SELECT 1 WHERE 0",  # SQLite keeps none in the database
    },
}


async def schema() -> dict[str, list[str]]:
    """Tables with their columns, indexes, constraints, triggers and functions, as sorted lists
    of strings: two schemas compare equal when the databases are built alike."""
    from portal.core import db

    queries = SCHEMA_QUERIES[db.engine().engine_type]
    results = await asyncio.gather(*(_rows(query) for query in queries.values()))
    found = dict(zip(queries, results, strict=True))
    return {
        "tables": sorted({row["t"] for row in found["columns"]}),
        **{
            part: sorted(json.dumps(row, sort_keys=True, default=str) for row in rows)
            for part, rows in found.items()
        },
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


async def one_by_one() -> dict[str, dict[str, list[str]]]:
    """Undoes the migrations one at a time, the latest first, then applies them again one at a
    time. Returns, for each migration whose forward step did not find the schema its backward
    step had left, what differed. (Undoing an app whole hides a step that leaves an index or a
    trigger behind: its first migration drops the tables, and them with them.)"""
    from piccolo.apps.migrations.commands.backwards import run_backwards
    from piccolo.apps.migrations.commands.base import BaseMigrationManager
    from piccolo.apps.migrations.commands.forwards import run_forwards
    from piccolo.conf.apps import Finder

    finder, base = Finder(), BaseMigrationManager()
    order = [
        (app, migration_id)
        for app in base.get_sorted_app_names()
        for migration_id in sorted(
            base.get_migration_modules(finder.get_app_config(app).resolved_migrations_folder_path)
        )
    ]
    left = {}
    for app, migration_id in reversed(order):
        result = await run_backwards(app, migration_id=migration_id, auto_agree=True)
        assert result.success, result.message
        left[app, migration_id] = await schema()
    differences = {}
    for app, migration_id in order:
        found = await schema()
        if found != left[app, migration_id]:
            differences[f"{app} {migration_id}"] = {
                part: sorted(set(found[part]) ^ set(left[app, migration_id][part]))
                for part in found
                if found[part] != left[app, migration_id][part]
            }
        result = await run_forwards(app, migration_id=migration_id)
        assert result.success, result.message
    return differences


async def private_export_model() -> Any:
    """An export model a pilot made private (the migration adding `shared` shared the models
    saved before it)."""
    from portal.payments.tables import ExportModel
    from portal.tenants import repository

    consortium = await repository.insert_consortium("C", "c", "fnavdl", ["69"], "active")
    model = ExportModel(consortium=consortium, name="m", columns=[], format="csv", shared=False)
    await model.save()
    return model.id


async def shared(model: Any) -> bool:
    from portal.payments.tables import ExportModel

    row = await ExportModel.select(ExportModel.shared).where(ExportModel.id == model).first()
    assert row is not None
    return bool(row["shared"])


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

    model = await private_export_model()
    report["rerun"] = await rerun_raw_steps()
    report["private_model_after_rerun"] = await shared(model)
    report["after_rerun"] = await schema()

    report["one_by_one"] = await one_by_one()
    report["after_one_by_one"] = await schema()

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
