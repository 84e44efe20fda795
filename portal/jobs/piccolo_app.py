import os

from piccolo.conf.apps import AppConfig

from portal.jobs import tables

APP_CONFIG = AppConfig(
    app_name="jobs",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[tables.OutboxJob, tables.MailDelivery, tables.Runner],
)
