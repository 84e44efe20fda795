from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T08:40:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "one line number per schedule, one export model name per consortium; payments kept"

# A recorded payment is never changed or removed: a mistake is cancelled (cancelled_at, with a
# reason), which is the only update allowed.
FUNCTION = """
CREATE OR REPLACE FUNCTION payments_payment_kept() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'payments_payment rows are kept: cancel the payment instead';
    END IF;
    IF OLD.cancelled_at IS NOT NULL
       OR NEW.amount_cents <> OLD.amount_cents OR NEW.paid_on <> OLD.paid_on
       OR NEW.reference <> OLD.reference OR NEW.line <> OLD.line
       OR NEW.recorded_at <> OLD.recorded_at OR NEW.reason <> OLD.reason THEN
        RAISE EXCEPTION 'payments_payment rows are kept: only a cancellation may be recorded';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""
TRIGGER = """
CREATE OR REPLACE TRIGGER payments_payment_kept BEFORE UPDATE OR DELETE ON payments_payment
FOR EACH ROW EXECUTE FUNCTION payments_payment_kept()
"""

INDEXES = (
    ("UNIQUE INDEX", "payments_line_number", "payments_line", "schedule, number"),
    ("UNIQUE INDEX", "payments_export_model_name", "payments_export_model", "consortium, name"),
    ("INDEX", "payments_line_consortium", "payments_line", "consortium"),
    ("INDEX", "payments_payment_line", "payments_payment", "line"),
)


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="payments", description=DESCRIPTION)

    # Plain SQL: see auth's composite unique index migration.
    async def run() -> None:
        engine = engine_finder()
        for kind, name, table, columns in INDEXES:
            await engine.run_ddl(f"CREATE {kind} IF NOT EXISTS {name} ON {table} ({columns})")
        if engine.engine_type == "postgres":
            await engine.run_ddl(FUNCTION)
            await engine.run_ddl(TRIGGER)

    async def undo() -> None:
        engine = engine_finder()
        if engine.engine_type == "postgres":
            await engine.run_ddl("DROP TRIGGER IF EXISTS payments_payment_kept ON payments_payment")
            await engine.run_ddl("DROP FUNCTION IF EXISTS payments_payment_kept()")
        for _, name, _, _ in INDEXES:
            await engine.run_ddl(f"DROP INDEX IF EXISTS {name}")

    manager.add_raw(run)
    manager.add_raw_backwards(undo)
    return manager
