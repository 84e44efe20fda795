import os

from piccolo.conf.apps import AppConfig

from portal.reminders import tables

APP_CONFIG = AppConfig(
    app_name="reminders",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[tables.ReminderPolicy, tables.ReminderSent],
    migration_dependencies=["portal.tenants.piccolo_app"],
)
