from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-23T00:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one reminder per object, recipient and step"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="reminders", description=DESCRIPTION)

    # Plain SQL: see auth's composite unique index migration.
    async def run() -> None:
        await engine_finder().run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS reminders_sent_once "
            "ON reminders_sent (consortium, subject, recipient, step)"
        )

    async def undo() -> None:
        await engine_finder().run_ddl("DROP INDEX IF EXISTS reminders_sent_once")

    manager.add_raw(run)
    manager.add_raw_backwards(undo)
    return manager
