from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T23:40:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite unique indexes"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="tenants", description=DESCRIPTION)

    # Plain SQL: Piccolo adds its Unique constraint with ALTER TABLE ... ADD CONSTRAINT,
    # which SQLite does not support. CREATE UNIQUE INDEX works on both engines.
    async def run() -> None:
        await engine_finder().run_ddl(
            'CREATE UNIQUE INDEX tenants_participation_consortium_organisation ON tenants_participation (consortium, organisation)'
        )
        await engine_finder().run_ddl(
            'CREATE UNIQUE INDEX tenants_membership_consortium_user ON tenants_membership (consortium, "user")'
        )

    manager.add_raw(run)
    return manager
