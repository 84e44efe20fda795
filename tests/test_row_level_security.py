"""Row-level security on PostgreSQL: under the repositories' consortium filter, the database
itself shows a connection the rows of the consortium in force only (`portal.core.scope`)."""

from __future__ import annotations

import ast
from pathlib import Path

import asyncpg
import pytest
from piccolo.conf.apps import Finder

from portal.core import db, scope
from portal.tenants import repository
from portal.tenants.tables import Membership
from tests.conftest import ON_POSTGRES, World

ROOT = Path(__file__).resolve().parents[1]


def tenant_tables() -> set[str]:
    return {
        table._meta.tablename
        for table in Finder().get_table_classes()
        if any(c._meta.name == "consortium" for c in table._meta.columns)
    }


async def rows(sql: str, *args: object) -> list[asyncpg.Record]:
    """A raw statement on a pool connection, as any query of the portal runs."""
    pool = db.engine().pool  # type: ignore[attr-defined]
    async with pool.acquire() as connection:
        return list(await connection.fetch(sql, *args))


async def memberships_of(space_id: object) -> int:
    found = await rows("SELECT count(*) FROM tenants_membership WHERE consortium = $1", space_id)
    return int(found[0][0])


@pytest.mark.postgres_only
class TestPolicies:
    async def test_every_tenant_table_forces_a_policy(self) -> None:
        assert ON_POSTGRES
        found = await rows(
            "SELECT c.relname FROM pg_class c JOIN pg_policies p ON p.tablename = c.relname "
            "WHERE c.relrowsecurity AND c.relforcerowsecurity"
        )
        without_policy = sorted(tenant_tables() - {r[0] for r in found})
        assert without_policy == []

    async def test_the_portal_role_is_held_to_them(self) -> None:
        found = await rows(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user"
        )
        assert [tuple(r) for r in found] == [(False, False)]


@pytest.mark.postgres_only
class TestIsolation:
    async def test_another_consortium_s_rows_are_out_of_reach_of_raw_sql(
        self, world: World
    ) -> None:
        a, b = world.tenant, world.other_tenant
        before = await memberships_of(b.id)
        assert before > 0
        async with scope.consortium_scope(a.id):
            assert await memberships_of(b.id) == 0
            assert await memberships_of(a.id) > 0
            updated = await rows(
                "UPDATE tenants_membership SET role = 'pilot' WHERE consortium = $1 RETURNING id",
                b.id,
            )
            deleted = await rows(
                "DELETE FROM tenants_participation WHERE consortium = $1 RETURNING id", b.id
            )
            assert (updated, deleted) == ([], [])
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
                await rows(
                    "INSERT INTO tenants_participation (id, consortium, organisation) "
                    "VALUES (gen_random_uuid(), $1, $2)",
                    b.id,
                    b.lessor_id,
                )
        assert await memberships_of(b.id) == before
        worker = await repository.member(b.scope, b.association_worker.membership_id)  # type: ignore[arg-type]
        assert worker is not None and worker["role"] == "association_staff"

    async def test_an_unscoped_query_returns_nothing_of_another_consortium(
        self, world: World
    ) -> None:
        a, b = world.tenant, world.other_tenant
        async with scope.consortium_scope(a.id):
            # Deliberately without the consortium filter a repository must always apply.
            everything = await Membership.select(Membership.consortium)  # tenant-scope-ok: test
            # And a repository handed the other consortium's scope by mistake.
            theirs = await repository.members(b.scope)
        assert everything and {r["consortium"] for r in everything} == {a.id}
        assert theirs == []

    async def test_no_scope_shows_no_tenant_row(self, world: World) -> None:
        async with scope.unscoped():
            assert await memberships_of(world.tenant.id) == 0
            assert await Membership.count() == 0  # tenant-scope-ok: test

    async def test_a_scope_entered_inside_a_transaction_applies_to_it(self, world: World) -> None:
        b = world.other_tenant
        async with db.transaction():  # its connection was taken in the platform's scope
            async with scope.consortium_scope(world.tenant.id):
                assert (
                    await Membership.count().where(Membership.consortium == b.id) == 0
                )  # tenant-scope-ok: test
            assert (
                await Membership.count().where(Membership.consortium == b.id) > 0
            )  # tenant-scope-ok: test

    async def test_a_streamed_query_is_scoped_on_its_own_connection(self, world: World) -> None:
        seen = set()
        async with scope.consortium_scope(world.tenant.id):
            async for batch in db.stream(
                Membership.select(Membership.consortium)
            ):  # tenant-scope-ok: test
                seen |= {r["consortium"] for r in batch}
        assert seen == {world.tenant.id}

    async def test_a_connection_given_back_shows_the_scope_of_its_next_task(
        self, world: World
    ) -> None:
        """The pool keeps a connection's settings on release (no RESET ALL): every connection,
        lent in A's scope then given back, shows no tenant row when lent with no scope."""
        pool = db.engine().pool  # type: ignore[attr-defined]
        size = pool.get_max_size()
        sql = "SELECT current_setting('portal.consortium', true) AS c, count(*) AS n " + (
            "FROM tenants_membership"
        )
        for lent_in, expected in ((world.tenant.id, str(world.tenant.id)), (None, "")):
            async with scope.consortium_scope(lent_in):
                held = [await pool.acquire() for _ in range(size)]
                try:
                    found = [(await c.fetch(sql))[0] for c in held]
                finally:
                    for c in held:
                        await pool.release(c)
            assert {r["c"] for r in found} == {expected}
            assert all((r["n"] > 0) == bool(lent_in) for r in found)


class TestEscapeHatch:
    def test_every_platform_scope_says_why(self) -> None:
        sites = []
        for folder in ("portal", "workers"):
            for path in (ROOT / folder).rglob("*.py"):
                for node in ast.walk(ast.parse(path.read_text())):
                    if (
                        isinstance(node, ast.Call)
                        and getattr(node.func, "id", getattr(node.func, "attr", None))
                        == "platform_scope"
                    ):
                        reason = node.args[0] if node.args else None
                        assert isinstance(reason, ast.Constant) and isinstance(reason.value, str)
                        assert len(reason.value) > 10, f"{path}:{node.lineno}"
                        sites.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        assert sites  # the hatch is used, and only through this function

    async def test_a_consortium_scope_narrows_a_platform_scope(self) -> None:
        async with scope.platform_scope("test: the outer scope of a periodic scan"):
            assert scope.current().platform
            async with scope.consortium_scope(None):
                assert scope.current() == scope.NONE
            assert scope.current().platform
