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
CREATE TRIGGER conventions_version_immutable BEFORE UPDATE OR DELETE ON conventions_version
FOR EACH ROW EXECUTE FUNCTION conventions_version_immutable()
"""


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="conventions", description=DESCRIPTION)

    # Plain SQL: see auth's composite unique index migration.
    async def run() -> None:
        engine = engine_finder()
        await engine.run_ddl(
            "CREATE UNIQUE INDEX conventions_version_number ON conventions_version "
            "(convention, number)"
        )
        await engine.run_ddl(
            "CREATE UNIQUE INDEX conventions_reference ON conventions_convention "
            "(consortium, reference)"
        )
        if engine.engine_type == "postgres":
            await engine.run_ddl(FUNCTION)
            await engine.run_ddl(TRIGGER)

    manager.add_raw(run)
    return manager
