from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from portal.core.migration_sql import SqlMigrationManager, consortium_keys

ID = "2026-12-01T20:00:02:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes led by the consortium on memberships and invitations"

INDEXES = (
    ("tenants_membership_consortium_organisation", "tenants_membership", 'consortium, organisation'),
    ("tenants_invitation_consortium_organisation", "tenants_invitation", 'consortium, organisation'),
)


async def forwards() -> MigrationManager:
    manager = SqlMigrationManager(migration_id=ID, app_name="tenants", description=DESCRIPTION)
    consortium_keys(manager, indexes=INDEXES)
    return manager
