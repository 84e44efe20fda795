from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Boolean
from piccolo.columns.indexes import IndexMethod
from piccolo.engine import engine_finder

from portal.core.migration_sql import SqlMigrationManager, has_column

ID = "2026-12-01T17:02:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "export models: private to their owner unless a pilot shares them"


async def forwards() -> MigrationManager:
    manager = SqlMigrationManager(migration_id=ID, app_name="payments", description=DESCRIPTION)
    # What the SQL below adds, as `ExportModel` declares it (for piccolo's snapshot).
    manager.add_column(
        table_class_name="ExportModel",
        tablename="payments_export_model",
        column_name="shared",
        db_column_name="shared",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": False,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    # Plain SQL, valid on both engines (SQLite keeps Piccolo's type name for its converter).
    # The models saved so far were seen by the whole consortium: they stay shared, so that
    # nobody loses one their spreadsheets rely on; a pilot may stop sharing them. Only when
    # the column is new: run again, this must not share again what a pilot made private.
    async def run() -> None:
        engine = engine_finder()
        if await has_column("payments_export_model", "shared"):
            return
        await engine.run_ddl(
            "ALTER TABLE payments_export_model ADD COLUMN shared BOOLEAN NOT NULL DEFAULT FALSE"
        )
        await engine.run_ddl("UPDATE payments_export_model SET shared = TRUE")

    async def undo() -> None:
        if await has_column("payments_export_model", "shared"):
            await engine_finder().run_ddl("ALTER TABLE payments_export_model DROP COLUMN shared")

    manager.add_raw(run)
    manager.add_raw_backwards(undo)
    return manager
