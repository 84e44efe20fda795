from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T06:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one chain per request, one revision number, one reminder per key; append-only rows"

FUNCTION = """
CREATE OR REPLACE FUNCTION signing_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql
"""
TRIGGER = """
CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
FOR EACH ROW EXECUTE FUNCTION signing_append_only()
"""

INDEXES = (
    ("signing_event_seq", "signing_event", "request, seq"),
    ("signing_revision_number", "signing_revision", "request, number"),
    ("signing_reminder_key", "signing_reminder", "participant, key"),
)
APPEND_ONLY = ("signing_event", "signing_revision")


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="signing", description=DESCRIPTION)

    # Plain SQL: see auth's composite unique index migration.
    async def run() -> None:
        engine = engine_finder()
        for name, table, columns in INDEXES:
            await engine.run_ddl(
                f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {table} ({columns})"
            )
        if engine.engine_type == "postgres":
            await engine.run_ddl(FUNCTION)
            for table in APPEND_ONLY:
                await engine.run_ddl(TRIGGER.format(table=table))

    async def undo() -> None:
        engine = engine_finder()
        if engine.engine_type == "postgres":
            for table in APPEND_ONLY:
                await engine.run_ddl(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            await engine.run_ddl("DROP FUNCTION IF EXISTS signing_append_only()")
        for name, _, _ in INDEXES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(undo)
    return manager
