from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-12-01T14:10:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "the objects stored before the ledger existed"


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="objects", description=DESCRIPTION)

    # The objects the domains stored before the ledger existed are committed: their rows exist.
    # (`WHERE 1 = 1`: SQLite needs a WHERE before ON CONFLICT in INSERT … SELECT.)
    sources = [
        ("documents", "documents_version", "storage_key", "size", "uploaded_at", "purged_at IS NULL"),
        ("conventions", "conventions_annex", "storage_key", "size", "uploaded_at", "1 = 1"),
        ("conventions", "conventions_version", "pdf_key", "pdf_size", "created_at",
         "pdf_key IS NOT NULL"),
        ("signing", "signing_revision", "storage_key", "size", "created_at", "1 = 1"),
        ("signing", "signing_request", "certificate_key", "0", "created_at",
         "certificate_key IS NOT NULL"),
        ("payments", "payments_export", "storage_key", "size", "created_at",
         "storage_key IS NOT NULL"),
    ]

    async def backfill() -> None:
        engine = engine_finder()
        for owner, table, key, size, at, condition in sources:
            await engine.run_ddl(
                "INSERT INTO objects_ledger "
                "(key, owner, consortium_id, state, size, created_at, confirmed_at) "
                f"SELECT {key}, '{owner}', consortium, 'committed', {size}, {at}, {at} "
                f"FROM {table} WHERE {condition} ON CONFLICT DO NOTHING"
            )

    # Backwards, the rows stay: they describe objects that exist, and the ledger itself goes
    # with the previous migration. Run again, the backfill adds nothing (ON CONFLICT).
    async def keep() -> None:
        pass

    manager.add_raw(backfill)
    manager.add_raw_backwards(keep)
    return manager
