import os

from piccolo.conf.apps import AppConfig

from portal.documents import tables

APP_CONFIG = AppConfig(
    app_name="documents",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[tables.DocumentRequest, tables.DocumentItem, tables.DocumentVersion],
    migration_dependencies=["portal.tenants.piccolo_app"],
)
