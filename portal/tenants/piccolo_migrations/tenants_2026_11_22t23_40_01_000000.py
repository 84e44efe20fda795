from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T23:40:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite unique indexes"

INDEXES = (
    ("tenants_participation_consortium_organisation", "tenants_participation",
     "consortium, organisation"),
    ("tenants_membership_consortium_user", "tenants_membership", 'consortium, "user"'),
)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="tenants", description=DESCRIPTION)

    # Plain SQL: Piccolo adds its Unique constraint with ALTER TABLE ... ADD CONSTRAINT,
    # which SQLite does not support. CREATE UNIQUE INDEX works on both engines.
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
