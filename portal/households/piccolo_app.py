import os

from piccolo.conf.apps import AppConfig

from portal.households import tables

APP_CONFIG = AppConfig(
    app_name="households",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        tables.DataKey,
        tables.Household,
        tables.Identity,
        tables.Transition,
        tables.Occupation,
        tables.Note,
        tables.Section,
        tables.Diagnostic,
        tables.Consent,
        tables.Transmission,
        tables.Alert,
        tables.Procedure,
        tables.Settings,
        tables.Read,
        tables.Tombstone,
        tables.ErasedCount,
    ],
    migration_dependencies=["portal.conventions.piccolo_app", "portal.tenants.piccolo_app"],
)
