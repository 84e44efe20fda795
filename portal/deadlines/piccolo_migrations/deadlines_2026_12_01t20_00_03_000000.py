from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from portal.core.migration_sql import SqlMigrationManager, consortium_keys

ID = "2026-12-01T20:00:03:000000"
VERSION = "1.38.0"
DESCRIPTION = "an index led by the consortium on deadlines"

INDEXES = (
    ("deadlines_deadline_consortium_organisation", "deadlines_deadline", 'consortium, organisation'),
)


async def forwards() -> MigrationManager:
    manager = SqlMigrationManager(migration_id=ID, app_name="deadlines", description=DESCRIPTION)
    consortium_keys(manager, indexes=INDEXES)
    return manager
