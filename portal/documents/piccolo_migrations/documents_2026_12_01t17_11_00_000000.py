from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import UUID, Boolean
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T17:11:00:000000"
VERSION = "1.38.0"
DESCRIPTION = (
    "a request may name its convention and records the requesting organisation; "
    "a review records that the depositing organisation validated its own document"
)

_PARAMS = {
    "null": True,
    "default": None,
    "primary_key": False,
    "unique": False,
    "index": False,
    "index_method": IndexMethod.btree,
    "choices": None,
    "db_column_name": None,
    "secret": False,
}


async def forwards() -> MigrationManager:
    manager = MigrationManager(migration_id=ID, app_name="documents", description=DESCRIPTION)
    for column in ("convention", "requested_by_organisation"):
        manager.add_column(
            table_class_name="DocumentRequest",
            tablename="documents_request",
            column_name=column,
            db_column_name=column,
            column_class_name="UUID",
            column_class=UUID,
            params=_PARAMS,
            schema=None,
        )
    manager.add_column(
        table_class_name="DocumentItem",
        tablename="documents_item",
        column_name="self_reviewed",
        db_column_name="self_reviewed",
        column_class_name="Boolean",
        column_class=Boolean,
        params={**_PARAMS, "null": False, "default": False},
        schema=None,
    )
    return manager
