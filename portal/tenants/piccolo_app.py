import os

from piccolo.conf.apps import AppConfig

from portal.tenants import tables

APP_CONFIG = AppConfig(
    app_name="tenants",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        tables.Consortium,
        tables.Organisation,
        tables.Participation,
        tables.Membership,
        tables.Invitation,
    ],
    migration_dependencies=["portal.auth.piccolo_app"],
)
