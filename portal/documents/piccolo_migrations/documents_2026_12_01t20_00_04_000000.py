from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from portal.core.migration_sql import SameConsortium, SqlMigrationManager, consortium_keys

ID = "2026-12-01T20:00:04:000000"
VERSION = "1.38.0"
DESCRIPTION = "pieces and versions stay with a request and a piece of their consortium; indexes led by the consortium"

# Keyed by (consortium, id): what the children's composite foreign keys reference.
PARENTS = (
    "documents_request",
    "documents_item",
)

CHILDREN = (
    SameConsortium("documents_item", "request", "documents_request"),
    SameConsortium("documents_version", "item", "documents_item"),
)

INDEXES = (
    ("documents_request_consortium_organisation", "documents_request", 'consortium, organisation'),
    ("documents_item_consortium_organisation", "documents_item", 'consortium, organisation'),
)


async def forwards() -> MigrationManager:
    manager = SqlMigrationManager(migration_id=ID, app_name="documents", description=DESCRIPTION)
    consortium_keys(manager, parents=PARENTS, children=CHILDREN, indexes=INDEXES)
    return manager
