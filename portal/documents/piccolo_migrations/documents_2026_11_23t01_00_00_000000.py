from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T01:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one item per request and period; one version number per item"

INDEXES = (
    ("documents_item_period", "documents_item", "request, period_start"),
    ("documents_version_number", "documents_version", "item, number"),
)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="documents", description=DESCRIPTION)

    # Plain SQL: see auth's composite unique index migration.
    async def run() -> None:
        for name, table, columns in INDEXES:
            await engine_finder().run_ddl(
                f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {table} ({columns})"
            )

    async def undo() -> None:
        for name, _, _ in INDEXES:
            await engine_finder().run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(undo)
    return manager
