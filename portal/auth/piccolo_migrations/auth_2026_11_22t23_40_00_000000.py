from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T23:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "composite unique indexes"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="auth", description=DESCRIPTION)

    # Plain SQL: Piccolo adds its Unique constraint with ALTER TABLE ... ADD CONSTRAINT,
    # which SQLite does not support. CREATE UNIQUE INDEX works on both engines.
    async def run() -> None:
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS auth_oidc_identity_provider_subject "
            "ON auth_oidc_identity (provider, subject)"
        )

    async def undo() -> None:
        await engine_finder().run_ddl("DROP INDEX IF EXISTS auth_oidc_identity_provider_subject")

    manager.add_raw(run)
    manager.add_raw_backwards(undo)
    return manager
