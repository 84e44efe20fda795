from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T18:56:10:048162"
VERSION = "1.38.0"
DESCRIPTION = "a convention sets how many times a sub-letting may be renewed"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="conventions", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="Convention",
        tablename="conventions_convention",
        column_name="subletting_renewals",
        db_column_name="subletting_renewals",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 1,
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
