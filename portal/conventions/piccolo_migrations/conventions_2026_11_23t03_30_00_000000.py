from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T03:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one number per version; frozen versions cannot change on PostgreSQL"

FUNCTION = """
CREATE OR REPLACE FUNCTION conventions_version_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'conventions_version rows are immutable';
END;
$$ LANGUAGE plpgsql
"""
TRIGGER = """
CREATE OR REPLACE TRIGGER conventions_version_immutable BEFORE UPDATE OR DELETE ON conventions_version
FOR EACH ROW EXECUTE FUNCTION conventions_version_immutable()
"""

INDEXES = (
    ("conventions_version_number", "conventions_version", "convention, number"),
    ("conventions_reference", "conventions_convention", "consortium, reference"),
)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="conventions", description=DESCRIPTION)

    # Plain SQL: see auth's composite unique index migration.
    async def run() -> None:
        engine = engine_finder()
        for name, table, columns in INDEXES:
            await engine.run_ddl(
                f"CREATE UNIQUE INDEX IF NOT EXISTS {name} ON {table} ({columns})"
            )
        if engine.engine_type == "postgres":
            await engine.run_ddl(FUNCTION)
            await engine.run_ddl(TRIGGER)

    async def undo() -> None:
        engine = engine_finder()
        if engine.engine_type == "postgres":
            await engine.run_ddl(
                "DROP TRIGGER IF EXISTS conventions_version_immutable ON conventions_version"
            )
            await engine.run_ddl("DROP FUNCTION IF EXISTS conventions_version_immutable()")
        for name, _, _ in INDEXES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(undo)
    return manager
