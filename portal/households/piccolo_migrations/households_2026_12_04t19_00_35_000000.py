from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

from portal.core.migration_sql import SameConsortium, SqlMigrationManager, consortium_keys
from portal.rls.piccolo_migrations.rls_2026_12_01t20_00_00_000000 import disable, enable

ID = "2026-12-04T19:00:35:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "households: row-level security, rows tied to a parent of their consortium, one pseudonym "
    "per household in a consortium, an append-only read log (PostgreSQL)"
)

TABLES = (
    "households_data_key",
    "households_household",
    "households_identity",
    "households_transition",
    "households_occupation",
    "households_note",
    "households_section",
    "households_diagnostic",
    "households_consent",
    "households_transmission",
    "households_alert",
    "households_procedure",
    "households_settings",
    "households_read",
    "households_tombstone",
    "households_erased_count",
)

PARENTS = ("households_household", "households_consent")

CHILDREN = (
    SameConsortium("households_household", "convention", "conventions_convention"),
    SameConsortium("households_identity", "household", "households_household"),
    SameConsortium("households_transition", "household", "households_household"),
    SameConsortium("households_occupation", "household", "households_household"),
    SameConsortium("households_note", "household", "households_household"),
    SameConsortium("households_diagnostic", "household", "households_household"),
    SameConsortium("households_consent", "household", "households_household"),
    SameConsortium("households_transmission", "household", "households_household"),
    SameConsortium("households_transmission", "consent", "households_consent"),
    SameConsortium("households_alert", "household", "households_household"),
    SameConsortium("households_procedure", "household", "households_household"),
)

INDEXES = (
    # The caseloads' order: PostgreSQL's generic plan for a prepared statement (from its sixth
    # run) reads the whole association's households before sorting them without these
    # (infra/bench/households.py: 20-30 ms against 0.3 ms at 5,000 households).
    ("households_household_consortium_association", "households_household", "consortium, association, pseudonym"),
    ("households_household_consortium_lessor", "households_household", "consortium, lessor, pseudonym"),
    ("households_household_consortium_last_contact", "households_household", "consortium, last_contact_at"),
    ("households_identity_consortium_name_hash", "households_identity", "consortium, name_hash"),
    ("households_alert_consortium_addressee", "households_alert", "consortium, addressee"),
    ("households_alert_consortium_sender", "households_alert", "consortium, sender"),
    ("households_transmission_consortium_recipient", "households_transmission", "consortium, recipient"),
    ("households_read_consortium_household", "households_read", "consortium, household, at"),
    ("households_section_consortium", "households_section", "consortium, position"),
    ("households_tombstone_consortium", "households_tombstone", "consortium, pseudonym"),
    ("households_erased_count_consortium", "households_erased_count", "consortium, month"),
    ("households_procedure_consortium_until", "households_procedure", "consortium, suspended_until"),
)

APPEND_ONLY = """
CREATE OR REPLACE FUNCTION households_read_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'le journal des consultations ne se modifie pas (%)', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


async def forwards() -> MigrationManager:
    manager = SqlMigrationManager(migration_id=ID, app_name="households", description=DESCRIPTION)
    consortium_keys(manager, parents=PARENTS, children=CHILDREN, indexes=INDEXES)

    async def run() -> None:
        engine = engine_finder()
        await engine.run_ddl(
            "CREATE UNIQUE INDEX IF NOT EXISTS households_household_consortium_pseudonym "
            "ON households_household (consortium, pseudonym)"
        )
        if engine.engine_type != "postgres":
            return
        for table in TABLES:
            for statement in enable(table):
                await engine.run_ddl(statement)
        await engine.run_ddl(APPEND_ONLY)
        await engine.run_ddl("DROP TRIGGER IF EXISTS households_read_append_only ON households_read")
        await engine.run_ddl(
            "CREATE TRIGGER households_read_append_only BEFORE UPDATE OR DELETE ON households_read "
            "FOR EACH ROW EXECUTE FUNCTION households_read_append_only()"
        )
        # TRUNCATE skips row triggers: a statement trigger refuses it too.
        await engine.run_ddl(
            "DROP TRIGGER IF EXISTS households_read_no_truncate ON households_read"
        )
        await engine.run_ddl(
            "CREATE TRIGGER households_read_no_truncate BEFORE TRUNCATE ON households_read "
            "FOR EACH STATEMENT EXECUTE FUNCTION households_read_append_only()"
        )

    async def undo() -> None:
        engine = engine_finder()
        await engine.run_ddl("DROP INDEX IF EXISTS households_household_consortium_pseudonym")
        if engine.engine_type != "postgres":
            return
        await engine.run_ddl("DROP TRIGGER IF EXISTS households_read_no_truncate ON households_read")
        await engine.run_ddl("DROP TRIGGER IF EXISTS households_read_append_only ON households_read")
        await engine.run_ddl("DROP FUNCTION IF EXISTS households_read_append_only()")
        for table in TABLES:
            for statement in disable(table):
                await engine.run_ddl(statement)

    manager.add_raw(run)
    manager.add_raw_backwards(undo)
    return manager
