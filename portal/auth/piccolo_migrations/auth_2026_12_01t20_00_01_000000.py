from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from portal.core.migration_sql import SqlMigrationManager, consortium_keys

ID = "2026-12-01T20:00:01:000000"
VERSION = "1.38.0"
DESCRIPTION = "indexes on the user of sessions, reset links, identities and recovery codes"

INDEXES = (
    ("auth_session_user", "auth_session", '"user"'),
    ("auth_password_reset_user", "auth_password_reset", '"user"'),
    ("auth_oidc_identity_user", "auth_oidc_identity", '"user"'),
    ("auth_recovery_code_user", "auth_recovery_code", '"user"'),
)


async def forwards() -> MigrationManager:
    manager = SqlMigrationManager(migration_id=ID, app_name="auth", description=DESCRIPTION)
    consortium_keys(manager, indexes=INDEXES)
    return manager
