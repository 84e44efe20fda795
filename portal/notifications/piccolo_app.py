import os

from piccolo.conf.apps import AppConfig

from portal.notifications import tables

APP_CONFIG = AppConfig(
    app_name="notifications",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[tables.Notification, tables.NotificationPreference],
    migration_dependencies=["portal.auth.piccolo_app"],
)
