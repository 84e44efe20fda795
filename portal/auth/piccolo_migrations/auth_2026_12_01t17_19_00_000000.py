from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import UUID, BigInt, Integer, Varchar
from piccolo.columns.defaults.uuid import UUID4
from piccolo.columns.indexes import IndexMethod
from piccolo.engine import engine_finder

from portal.core.migration_sql import SqlMigrationManager

ID = "2026-12-01T17:19:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "throttle counters"

_PARAMS = {
    "null": False,
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}
# What the SQL below creates, as `ThrottleCounter` declares it (for piccolo's snapshot).
COLUMNS = (
    ("id", UUID, {**_PARAMS, "default": UUID4(), "primary_key": True}),
    ("bucket", Varchar, {**_PARAMS, "length": 32, "default": ""}),
    ("subject", Varchar, {**_PARAMS, "length": 128, "default": ""}),
    ("slot", BigInt, {**_PARAMS, "default": 0}),
    ("hits", Integer, {**_PARAMS, "default": 0}),
    ("expires", BigInt, {**_PARAMS, "default": 0, "index": True}),
)


async def forwards() -> MigrationManager:
    manager = SqlMigrationManager(migration_id=ID, app_name="auth", description=DESCRIPTION)
    manager.add_table(
        class_name="ThrottleCounter", tablename="auth_throttle", schema=None, columns=None
    )
    for name, column_class, params in COLUMNS:
        manager.add_column(
            table_class_name="ThrottleCounter",
            tablename="auth_throttle",
            column_name=name,
            db_column_name=name,
            column_class_name=column_class.__name__,
            column_class=column_class,
            params=params,
            schema=None,
        )

    # Plain SQL, valid on both engines (SQLite keeps Piccolo's type names for its converters);
    # the unique index is what the counting upsert conflicts on.
    async def run() -> None:
        engine = engine_finder()
        await engine.run_ddl(
            "CREATE TABLE IF NOT EXISTS auth_throttle ("
            "id UUID PRIMARY KEY, "
            "bucket VARCHAR(32) NOT NULL DEFAULT '', "
            "subject VARCHAR(128) NOT NULL DEFAULT '', "
            "slot BIGINT NOT NULL DEFAULT 0, "
            "hits INTEGER NOT NULL DEFAULT 0, "
            "expires BIGINT NOT NULL DEFAULT 0)"
        )
        await engine.run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS auth_throttle_bucket_subject_slot "
            "ON auth_throttle (bucket, subject, slot)"
        )
        await engine.run_ddl(
            "CREATE INDEX IF NOT EXISTS auth_throttle_expires ON auth_throttle (expires)"
        )

    async def undo() -> None:
        await engine_finder().run_ddl("DROP TABLE IF EXISTS auth_throttle")  # its indexes too

    manager.add_raw(run)
    manager.add_raw_backwards(undo)
    return manager
