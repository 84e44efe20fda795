from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Integer
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-01T07:42:30:332900"
VERSION = "1.38.0"
DESCRIPTION = "the audit chain's length and head on each request"


async def forwards():
    manager = MigrationManager(
        migration_id=ID, app_name="signing", description=DESCRIPTION
    )

    manager.add_column(
        table_class_name="SignatureRequest",
        tablename="signing_request",
        column_name="chain_head",
        db_column_name="chain_head",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 64,
            "default": "",
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

    manager.add_column(
        table_class_name="SignatureRequest",
        tablename="signing_request",
        column_name="chain_length",
        db_column_name="chain_length",
        column_class_name="Integer",
        column_class=Integer,
        params={
            "default": 0,
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
