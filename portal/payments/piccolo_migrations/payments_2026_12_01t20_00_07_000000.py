from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from portal.core.migration_sql import SameConsortium, SqlMigrationManager, consortium_keys

ID = "2026-12-01T20:00:07:000000"
VERSION = "1.38.0"
DESCRIPTION = "schedules, lines and payments stay with a parent of their consortium; indexes led by the consortium"

# Keyed by (consortium, id): what the children's composite foreign keys reference.
PARENTS = (
    "payments_schedule",
    "payments_line",
)

CHILDREN = (
    SameConsortium("payments_schedule", "convention", "conventions_convention"),
    SameConsortium("payments_line", "schedule", "payments_schedule"),
    SameConsortium("payments_payment", "line", "payments_line"),
)

INDEXES = (
    ("payments_schedule_consortium_payer", "payments_schedule", 'consortium, payer_organisation'),
    ("payments_schedule_consortium_beneficiary", "payments_schedule", 'consortium, beneficiary'),
    ("payments_export_consortium", "payments_export", 'consortium'),
)


async def forwards() -> MigrationManager:
    manager = SqlMigrationManager(migration_id=ID, app_name="payments", description=DESCRIPTION)
    consortium_keys(manager, parents=PARENTS, children=CHILDREN, indexes=INDEXES)
    return manager
