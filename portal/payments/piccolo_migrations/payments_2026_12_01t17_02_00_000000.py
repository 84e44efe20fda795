from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T17:02:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "export models: private to their owner unless a pilot shares them"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="payments", description=DESCRIPTION)

    # Plain SQL, valid on both engines (SQLite keeps Piccolo's type name for its converter).
    # The models saved so far were seen by the whole consortium: they stay shared, so that
    # nobody loses one their spreadsheets rely on; a pilot may stop sharing them.
    async def run() -> None:
        engine = engine_finder()
        await engine.run_ddl(
            "ALTER TABLE payments_export_model ADD COLUMN shared BOOLEAN NOT NULL DEFAULT FALSE"
        )
        await engine.run_ddl("UPDATE payments_export_model SET shared = TRUE")

    manager.add_raw(run)
    return manager
