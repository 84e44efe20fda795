"""Meta-test: queries on tenant tables live in repositories only.

A tenant table is one with a `consortium` column. Any call such as `Membership.select(...)`,
`.objects()`, `.insert()`, `.update()`, `.delete()`, `.count()`, `.exists()` or `.raw()` on one of
them outside a `repository.py` fails this test, unless the line carries the marker
`# tenant-scope-ok: <reason>`.
"""

from __future__ import annotations

import ast
from pathlib import Path

from piccolo.conf.apps import Finder

PORTAL = Path(__file__).resolve().parents[1] / "portal"
QUERY_METHODS = {
    "select",
    "objects",
    "insert",
    "update",
    "delete",
    "count",
    "exists",
    "raw",
    "save",
}
MARKER = "# tenant-scope-ok:"


def tenant_tables() -> set[str]:
    return {
        table.__name__
        for table in Finder().get_table_classes()
        if any(c._meta.name == "consortium" for c in table._meta.columns)
    }


def offending_lines(source: str, filename: str, tables: set[str]) -> list[str]:
    found = []
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source, filename)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in QUERY_METHODS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in tables
            and MARKER not in lines[node.lineno - 1]
        ):
            found.append(f"{filename}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


class TestTenantScoping:
    def test_tenant_tables_are_known(self) -> None:
        assert {"Participation", "Membership", "Invitation"} <= tenant_tables()

    def test_no_query_on_a_tenant_table_outside_a_repository(self) -> None:
        tables = tenant_tables()
        offenders = []
        for path in PORTAL.rglob("*.py"):
            if path.name == "repository.py" or "piccolo_migrations" in path.parts:
                continue
            offenders += offending_lines(path.read_text(), str(path.relative_to(PORTAL)), tables)
        assert offenders == []

    def test_the_check_catches_a_query_and_honours_the_marker(self) -> None:
        tables = {"Membership"}
        bad = "async def f():\n    return await Membership.select().where(Membership.id == 1)\n"
        assert len(offending_lines(bad, "x.py", tables)) == 1
        ok = "async def f():\n    return await Membership.select()  # tenant-scope-ok: test\n"
        assert offending_lines(ok, "x.py", tables) == []

    def test_every_tenant_table_has_a_non_null_consortium(self) -> None:
        for table in Finder().get_table_classes():
            column = next((c for c in table._meta.columns if c._meta.name == "consortium"), None)
            if column is not None:
                assert column._meta.null is False, table.__name__
