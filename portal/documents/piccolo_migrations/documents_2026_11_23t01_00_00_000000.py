from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one item per request and period; one version number per item"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="documents", description=DESCRIPTION)

    # Plain SQL: see auth's composite unique index migration.
    async def run() -> None:
        engine = engine_finder()
        await engine.run_ddl(
            "CREATE UNIQUE INDEX documents_item_period ON documents_item (request, period_start)"
        )
        await engine.run_ddl(
            "CREATE UNIQUE INDEX documents_version_number ON documents_version (item, number)"
        )

    manager.add_raw(run)
    return manager
