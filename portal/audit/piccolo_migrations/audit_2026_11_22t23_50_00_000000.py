from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-22T23:50:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "audit events are append-only on PostgreSQL"

# The application never updates or deletes audit events; on the production engine the database
# refuses it too, whoever asks. (SQLite, the embedded default, relies on the repository alone.)
# Run again, it changes nothing (CREATE OR REPLACE TRIGGER: PostgreSQL 14 or later).
FUNCTION = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_event is append-only';
END;
$$ LANGUAGE plpgsql
"""
TRIGGER = """
CREATE OR REPLACE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_event
FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="audit", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        if engine is not None and engine.engine_type == "postgres":
            await engine.run_ddl(FUNCTION)
            await engine.run_ddl(TRIGGER)

    async def undo() -> None:
        engine = engine_finder()
        if engine is not None and engine.engine_type == "postgres":
            await engine.run_ddl("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
            await engine.run_ddl("DROP FUNCTION IF EXISTS audit_event_append_only()")

    manager.add_raw(run)
    manager.add_raw_backwards(undo)
    return manager
