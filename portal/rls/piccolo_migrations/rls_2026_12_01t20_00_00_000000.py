from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T20:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "row-level security on every tenant table (PostgreSQL)"

# Every table with a `consortium` column when this migration was written.
TABLES = (
    "tenants_participation",
    "tenants_membership",
    "tenants_invitation",
    "deadlines_deadline",
    "reminders_policy",
    "reminders_sent",
    "documents_request",
    "documents_item",
    "documents_version",
    "conventions_convention",
    "conventions_party",
    "conventions_article",
    "conventions_article_revision",
    "conventions_comment",
    "conventions_suggestion",
    "conventions_budget_line",
    "conventions_indicator",
    "conventions_annex",
    "conventions_version",
    "signing_request",
    "signing_participant",
    "signing_revision",
    "signing_event",
    "signing_reminder",
    "payments_schedule",
    "payments_line",
    "payments_payment",
    "payments_export_model",
    "payments_export",
)

# The consortium in force, or every row in a platform scope. `current_setting(…, true)` is
# NULL on a connection that never set it, '' once reset: both mean no consortium, no row.
# FORCE: the tables' owner is held to it too (superusers and BYPASSRLS roles are not).
RULE = (
    "consortium = nullif(current_setting('portal.consortium', true), '')::uuid "
    "OR current_setting('portal.platform', true) = 'on'"
)


def enable(table: str) -> list[str]:
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS consortium_scope ON {table}",
        f"CREATE POLICY consortium_scope ON {table} USING ({RULE}) WITH CHECK ({RULE})",
    ]


def disable(table: str) -> list[str]:
    return [
        f"DROP POLICY IF EXISTS consortium_scope ON {table}",
        f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
    ]


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="rls", description=DESCRIPTION)

    async def run() -> None:
        engine = engine_finder()
        if engine.engine_type == "postgres":  # SQLite has no row-level security
            for table in TABLES:
                for statement in enable(table):
                    await engine.run_ddl(statement)

    async def run_backwards() -> None:
        engine = engine_finder()
        if engine.engine_type == "postgres":
            for table in TABLES:
                for statement in disable(table):
                    await engine.run_ddl(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(run_backwards)
    return manager
