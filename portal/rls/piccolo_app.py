import os

from piccolo.conf.apps import AppConfig

APP_CONFIG = AppConfig(
    app_name="rls",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[],
    # Its policies cover the tenant tables of these apps: they must exist first.
    migration_dependencies=[
        "portal.tenants.piccolo_app",
        "portal.deadlines.piccolo_app",
        "portal.reminders.piccolo_app",
        "portal.documents.piccolo_app",
        "portal.conventions.piccolo_app",
        "portal.signing.piccolo_app",
        "portal.payments.piccolo_app",
    ],
)
