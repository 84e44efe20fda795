import os

from piccolo.conf.apps import AppConfig

from portal.deadlines import tables

APP_CONFIG = AppConfig(
    app_name="deadlines",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[tables.Deadline],
    migration_dependencies=["portal.tenants.piccolo_app"],
)
