"""Row-level security on PostgreSQL: the backstop under the repositories' consortium filter.

No tables of its own: its migrations enable and force row-level security on every tenant
table (a table with a `consortium` column), with one policy each that shows the rows of the
consortium in force, or every row in a platform scope (see `portal.core.scope`). A new tenant
table needs its policy in a new migration here; `tests/test_row_level_security.py` fails until
it has one.
"""
