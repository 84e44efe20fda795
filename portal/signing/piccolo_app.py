import os

from piccolo.conf.apps import AppConfig

from portal.signing import tables

APP_CONFIG = AppConfig(
    app_name="signing",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        tables.SignatureRequest,
        tables.Participant,
        tables.Revision,
        tables.Event,
        tables.Reminder,
        tables.Anchor,
    ],
    migration_dependencies=["portal.conventions.piccolo_app"],
)
