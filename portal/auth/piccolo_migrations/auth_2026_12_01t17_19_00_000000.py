from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T17:19:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "throttle counters"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="auth", description=DESCRIPTION)

    # Plain SQL, valid on both engines (SQLite keeps Piccolo's type names for its converters);
    # the unique index is what the counting upsert conflicts on.
    async def run() -> None:
        engine = engine_finder()
        await engine.run_ddl(
            "CREATE TABLE auth_throttle ("
            "id UUID PRIMARY KEY, "
            "bucket VARCHAR(32) NOT NULL DEFAULT '', "
            "subject VARCHAR(128) NOT NULL DEFAULT '', "
            "slot BIGINT NOT NULL DEFAULT 0, "
            "hits INTEGER NOT NULL DEFAULT 0, "
            "expires BIGINT NOT NULL DEFAULT 0)"
        )
        await engine.run_ddl(
            "CREATE UNIQUE INDEX auth_throttle_bucket_subject_slot "
            "ON auth_throttle (bucket, subject, slot)"
        )
        await engine.run_ddl("CREATE INDEX auth_throttle_expires ON auth_throttle (expires)")

    manager.add_raw(run)
    return manager
