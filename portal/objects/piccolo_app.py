import os

from piccolo.conf.apps import AppConfig

from portal.objects import tables

APP_CONFIG = AppConfig(
    app_name="objects",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[tables.StoredObject],
    # The first migration records the objects the domains stored before the ledger existed.
    migration_dependencies=[
        "portal.documents.piccolo_app",
        "portal.conventions.piccolo_app",
        "portal.signing.piccolo_app",
        "portal.payments.piccolo_app",
    ],
)
