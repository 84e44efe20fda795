from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from portal.core.migration_sql import SameConsortium, SqlMigrationManager, consortium_keys

ID = "2026-12-01T20:00:05:000000"
VERSION = "1.38.0"
DESCRIPTION = "a convention's parties, articles, lines, versions… stay in its consortium; indexes led by the consortium"

# Keyed by (consortium, id): what the children's composite foreign keys reference.
PARENTS = (
    "conventions_convention",
    "conventions_article",
    "conventions_version",
)

CHILDREN = (
    SameConsortium("conventions_party", "convention", "conventions_convention"),
    SameConsortium("conventions_article", "convention", "conventions_convention"),
    SameConsortium("conventions_article_revision", "convention", "conventions_convention"),
    SameConsortium("conventions_comment", "convention", "conventions_convention"),
    SameConsortium("conventions_suggestion", "convention", "conventions_convention"),
    SameConsortium("conventions_budget_line", "convention", "conventions_convention"),
    SameConsortium("conventions_indicator", "convention", "conventions_convention"),
    SameConsortium("conventions_annex", "convention", "conventions_convention"),
    SameConsortium("conventions_version", "convention", "conventions_convention"),
    SameConsortium("conventions_article_revision", "article", "conventions_article"),
    SameConsortium("conventions_comment", "article", "conventions_article"),
    SameConsortium("conventions_suggestion", "article", "conventions_article"),
)

INDEXES = (
    ("conventions_party_consortium_organisation", "conventions_party", 'consortium, organisation'),
)


async def forwards() -> MigrationManager:
    manager = SqlMigrationManager(migration_id=ID, app_name="conventions", description=DESCRIPTION)
    consortium_keys(manager, parents=PARENTS, children=CHILDREN, indexes=INDEXES)
    return manager
