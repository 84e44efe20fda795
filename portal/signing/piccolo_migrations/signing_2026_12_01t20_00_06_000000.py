from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from portal.core.migration_sql import SameConsortium, SqlMigrationManager, consortium_keys

ID = "2026-12-01T20:00:06:000000"
VERSION = "1.38.0"
DESCRIPTION = "a signature request stays with a convention and a frozen version of its consortium (version becomes a real foreign key), and its participants, revisions, events and reminders with it"

# Keyed by (consortium, id): what the children's composite foreign keys reference.
PARENTS = (
    "signing_request",
    "signing_participant",
)

CHILDREN = (
    SameConsortium("signing_request", "convention", "conventions_convention"),
    SameConsortium("signing_request", "version", "conventions_version"),
    SameConsortium("signing_participant", "request", "signing_request"),
    SameConsortium("signing_revision", "request", "signing_request"),
    SameConsortium("signing_event", "request", "signing_request"),
    SameConsortium("signing_reminder", "participant", "signing_participant"),
)

INDEXES = (
    ("signing_participant_consortium_organisation", "signing_participant", 'consortium, organisation'),
)


async def forwards() -> MigrationManager:
    manager = SqlMigrationManager(migration_id=ID, app_name="signing", description=DESCRIPTION)
    consortium_keys(manager, parents=PARENTS, children=CHILDREN, indexes=INDEXES)
    return manager
