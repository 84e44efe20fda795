"""Meta-tests: how tenant rows are reached.

A tenant table is one with a `consortium` column.

1. Queries on tenant tables live in repositories only. Any call such as `Membership.select(...)`,
   `.objects()`, `.insert()`, `.update()`, `.delete()`, `.count()`, `.exists()` or `.raw()` on one
   of them, or a scoped helper given one (`scoped.select(scope, Membership)`), outside a
   `repository.py` fails, unless the line carries the marker `# tenant-scope-ok: <reason>`.
2. In a repository, the consortium filter and stamp are the shared helpers' (`portal.core.scoped`):
   no hand-written `Table.consortium == ...` nor `Table(consortium=...)`.
3. Every public function of a tenant domain's repository takes a `TenantScope` (or
   `TenantContext`) or carries `@unscoped("<reason>")`.
4. A scope is built only by the named constructors of `portal/core/tenancy.py`: no
   `TenantScope(...)` nor `TenantContext(...)` elsewhere in `portal/` or `workers/`.
"""

from __future__ import annotations

import ast
import uuid
from pathlib import Path

import pytest
from piccolo.conf.apps import Finder

ROOT = Path(__file__).resolve().parents[1]
PORTAL = ROOT / "portal"
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
# The helpers of `portal.core.scoped` that query or write a table they are given.
SCOPED_HELPERS = {"select", "count", "exists", "update", "delete", "insert", "add"}
SCOPE_TYPES = {"TenantScope", "TenantContext"}
TENANCY = PORTAL / "core" / "tenancy.py"


def tenant_tables() -> set[str]:
    return {
        table.__name__
        for table in Finder().get_table_classes()
        if any(c._meta.name == "consortium" for c in table._meta.columns)
    }


def _is_scoped_helper(func: ast.expr) -> bool:
    if isinstance(func, ast.Attribute):
        return (
            func.attr in SCOPED_HELPERS
            and isinstance(func.value, ast.Name)
            and func.value.id == "scoped"
        )
    return False


def offending_lines(source: str, filename: str, tables: set[str]) -> list[str]:
    found = []
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call) or MARKER in lines[node.lineno - 1]:
            continue
        direct = (
            isinstance(node.func, ast.Attribute)
            and node.func.attr in QUERY_METHODS
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in tables
        )
        helper = _is_scoped_helper(node.func) and any(
            isinstance(arg, ast.Name) and arg.id in tables for arg in node.args
        )
        if direct or helper:
            found.append(f"{filename}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


def hand_written_scoping(source: str, filename: str, tables: set[str]) -> list[str]:
    """`Table.consortium == ...` or `Table(consortium=...)` on a tenant table."""
    found = []
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source, filename)):
        compared = (
            isinstance(node, ast.Compare)
            and isinstance(node.left, ast.Attribute)
            and node.left.attr == "consortium"
            and isinstance(node.left.value, ast.Name)
            and node.left.value.id in tables
        )
        stamped = (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in tables
            and any(k.arg == "consortium" for k in node.keywords)
        )
        if (compared or stamped) and isinstance(node, ast.expr):
            found.append(f"{filename}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


def _annotation_name(annotation: ast.expr | None) -> str | None:
    if isinstance(annotation, ast.Name):
        return annotation.id
    if isinstance(annotation, ast.Attribute):
        return annotation.attr
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return annotation.value.rpartition(".")[2]
    return None


def _unscoped_reason(function: ast.FunctionDef | ast.AsyncFunctionDef) -> str | None:
    for decorator in function.decorator_list:
        if (
            isinstance(decorator, ast.Call)
            and (
                (isinstance(decorator.func, ast.Name) and decorator.func.id == "unscoped")
                or (isinstance(decorator.func, ast.Attribute) and decorator.func.attr == "unscoped")
            )
            and decorator.args
            and isinstance(decorator.args[0], ast.Constant)
            and isinstance(decorator.args[0].value, str)
        ):
            return decorator.args[0].value
    return None


def unmarked_functions(source: str, filename: str) -> list[str]:
    """Public top-level functions that take no scope and carry no `@unscoped` with a reason."""
    found = []
    for node in ast.parse(source, filename).body:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name[0] == "_":
            continue
        arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
        if any(_annotation_name(a.annotation) in SCOPE_TYPES for a in arguments):
            continue
        if (_unscoped_reason(node) or "").strip():
            continue
        found.append(f"{filename}:{node.lineno}: {node.name}")
    return found


def direct_scopes(source: str, filename: str) -> list[str]:
    """`TenantScope(...)` or `TenantContext(...)`, however imported."""
    found = []
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source, filename)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name in SCOPE_TYPES:
            found.append(f"{filename}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


def tenant_domains() -> set[str]:
    """The domains whose tables include a tenant table (`portal.<domain>.tables`)."""
    return {
        table.__module__.split(".")[1]
        for table in Finder().get_table_classes()
        if any(c._meta.name == "consortium" for c in table._meta.columns)
    }


def _repositories() -> list[Path]:
    return sorted(PORTAL.glob("*/repository.py"))


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

    def test_the_check_catches_a_scoped_helper_on_a_tenant_table(self) -> None:
        tables = {"Membership"}
        bad = "async def f(scope):\n    return await scoped.select(scope, Membership).first()\n"
        assert len(offending_lines(bad, "x.py", tables)) == 1
        other = "async def f(scope):\n    return await scoped.select(scope, User).first()\n"
        assert offending_lines(other, "x.py", tables) == []

    def test_repositories_scope_through_the_shared_helpers(self) -> None:
        tables = tenant_tables()
        offenders = []
        for path in _repositories():
            offenders += hand_written_scoping(
                path.read_text(), str(path.relative_to(PORTAL)), tables
            )
        assert offenders == []

    def test_the_check_catches_a_hand_written_filter_and_stamp(self) -> None:
        tables = {"Membership"}
        compared = "q = Membership.select().where(Membership.consortium == scope.consortium_id)\n"
        stamped = "row = Membership(consortium=scope.consortium_id, role='pilot')\n"
        joined = "q = Membership.select().where(Membership.consortium.slug == slug)\n"
        assert len(hand_written_scoping(compared, "x.py", tables)) == 1
        assert len(hand_written_scoping(stamped, "x.py", tables)) == 1
        assert hand_written_scoping(joined, "x.py", tables) == []

    def test_tenant_domains_are_known(self) -> None:
        assert {"tenants", "conventions", "payments", "signing"} <= tenant_domains()
        assert "auth" not in tenant_domains()

    def test_every_repository_function_takes_a_scope_or_says_why_not(self) -> None:
        domains = tenant_domains()
        offenders = []
        for path in _repositories():
            if path.parent.name in domains:
                offenders += unmarked_functions(path.read_text(), str(path.relative_to(PORTAL)))
        assert offenders == []

    def test_the_check_catches_an_unmarked_function_and_honours_a_reason(self) -> None:
        source = (
            "async def bare(token: str): ...\n"
            "@unscoped('')\nasync def empty(token: str): ...\n"
            "@unscoped('a token, before any scope')\nasync def marked(token: str): ...\n"
            "@scoped.unscoped('the scheduler')\ndef qualified(): ...\n"
            "async def takes(scope: TenantScope, x: int): ...\n"
            "async def member(*, ctx: 'TenantContext'): ...\n"
            "def _private(): ...\n"
        )
        found = unmarked_functions(source, "x.py")
        assert [f.rpartition(": ")[2] for f in found] == ["bare", "empty"]

    def test_scopes_are_built_by_their_named_constructors_only(self) -> None:
        offenders = []
        for path in [*PORTAL.rglob("*.py"), *(ROOT / "workers").rglob("*.py")]:
            if path != TENANCY and "piccolo_migrations" not in path.parts:
                offenders += direct_scopes(path.read_text(), str(path.relative_to(ROOT)))
        assert offenders == []

    def test_the_check_catches_a_direct_scope(self) -> None:
        bad = (
            "a = TenantScope(consortium_id=x)\n"
            "b = tenancy.TenantContext(consortium_id=x, slug='s')\n"
            "c = TenantScope.for_job(x)\n"
        )
        assert [f.split(":")[1] for f in direct_scopes(bad, "x.py")] == ["1", "2"]

    def test_every_tenant_table_has_a_non_null_consortium(self) -> None:
        for table in Finder().get_table_classes():
            column = next((c for c in table._meta.columns if c._meta.name == "consortium"), None)
            if column is not None:
                assert column._meta.null is False, table.__name__


class TestScopedHelpers:
    def test_a_chained_where_keeps_the_consortium_filter(self) -> None:
        from portal.core import scoped
        from portal.core.tenancy import TenantScope
        from portal.tenants.tables import Membership

        mine, other = uuid.uuid4(), uuid.uuid4()
        scope = TenantScope.for_job(mine)
        for query in (
            scoped.select(scope, Membership, Membership.user.email).where(Membership.id == other),
            scoped.count(scope, Membership).where(Membership.id == other),
            scoped.exists(scope, Membership).where(Membership.id == other),
            scoped.update(scope, Membership, {"role": "pilot"}).where(Membership.id == other),
            scoped.delete(scope, Membership).where(Membership.id == other),
        ):
            sql = str(query)
            assert f'"tenants_membership"."consortium" = \'{mine}\' AND' in sql, sql
            assert str(other) in sql

    def test_an_insert_is_stamped_with_the_scope_and_no_other_consortium(self) -> None:
        from portal.core import scoped
        from portal.core.tenancy import TenantScope
        from portal.tenants.tables import Participation

        mine, other = uuid.uuid4(), uuid.uuid4()
        scope = TenantScope.for_job(mine)
        assert str(mine) in str(scoped.insert(scope, Participation, {"organisation": other}))
        with pytest.raises(TypeError):
            scoped.insert(scope, Participation, {"organisation": other, "consortium": other})

    def test_an_unscoped_function_and_a_platform_scope_say_why(self) -> None:
        from portal.core import scoped
        from portal.core.tenancy import TenantScope

        @scoped.unscoped("a token, before any scope")
        async def lookup() -> None: ...

        assert getattr(lookup, scoped.REASON) == "a token, before any scope"
        with pytest.raises(ValueError):
            scoped.unscoped(" ")
        with pytest.raises(ValueError):
            TenantScope.for_platform(uuid.uuid4(), reason="")
