import os

from piccolo.conf.apps import AppConfig

from portal.conventions import tables

APP_CONFIG = AppConfig(
    app_name="conventions",
    migrations_folder_path=os.path.join(os.path.dirname(__file__), "piccolo_migrations"),
    table_classes=[
        tables.Convention,
        tables.Party,
        tables.Article,
        tables.ArticleRevision,
        tables.Comment,
        tables.Suggestion,
        tables.BudgetLine,
        tables.Indicator,
        tables.Annex,
        tables.Version,
    ],
    migration_dependencies=["portal.tenants.piccolo_app"],
)
