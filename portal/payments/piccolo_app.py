import os

from piccolo.conf.apps import AppConfig

from portal.payments import tables

APP_CONFIG = AppConfig(
    app_name="payments",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        tables.Schedule,
        tables.Line,
        tables.Payment,
        tables.ExportModel,
        tables.Export,
    ],
    migration_dependencies=["portal.conventions.piccolo_app", "portal.tenants.piccolo_app"],
)
