"""Queries built once (`portal.core.prepared`): the same rows as piccolo building them each
time, each run with its own values, even side by side."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from portal.core import scoped
from portal.core.permissions import Role
from portal.core.prepared import prepared
from tests.conftest import World


def _membership_emails() -> Any:
    from portal.tenants.tables import Membership

    return lambda p: (
        scoped.select(p.scope, Membership, Membership.user.email.as_alias("email"))
        .where(Membership.role == p.role)
        .order_by(Membership.user.email)
    )


class TestPrepared:
    async def test_same_rows_as_the_query_built_each_time_for_each_scope(
        self, world: World
    ) -> None:
        build = _membership_emails()
        query = prepared(build)
        mine, theirs = world.tenant.scope, world.other_tenant.scope
        for scope in (mine, theirs):
            for role in (Role.PILOT, Role.ASSOCIATION_STAFF):
                expected = await build(_Values(scope=scope, role=role))
                assert await query(scope=scope, role=role) == expected
                assert expected  # each consortium has one of each
        emails = [row["email"] for row in await query(scope=mine, role=Role.PILOT)]
        assert emails == [world.tenant.pilot.email]

    async def test_runs_side_by_side_keep_their_own_values(self, world: World) -> None:
        query = prepared(_membership_emails())
        spaces = [world.tenant, world.other_tenant] * 10
        answers = await asyncio.gather(*(query(scope=s.scope, role=Role.PILOT) for s in spaces))
        assert [a[0]["email"] for a in answers] == [s.pilot.email for s in spaces]

    async def test_built_once_whatever_the_values(self, world: World) -> None:
        from portal.tenants import repository
        from portal.tenants.tables import Consortium

        calls: list[int] = []

        def build(p: Any) -> Any:
            calls.append(1)
            return Consortium.select(Consortium.slug).where(Consortium.id == p.id).first()

        query = prepared(build)
        for space in (world.tenant, world.other_tenant, world.tenant):
            assert await query(id=space.id) == {"slug": space.slug}
        assert await query(id=uuid.uuid4()) is None  # `first()`: no row
        assert len(calls) == 1
        # The repositories' own prepared queries answer as before.
        found = await repository.consortium_by_slug(world.tenant.slug)
        assert found is not None and found["id"] == world.tenant.id
        assert await repository.consortium_by_slug("inconnu") is None

    async def test_a_count(self, world: World) -> None:
        from portal.tenants.tables import Membership

        count = prepared(lambda p: scoped.count(p.scope, Membership))
        assert await count(scope=world.tenant.scope) == 4
        assert await count(scope=world.other_tenant.scope) == 2

    @pytest.mark.parametrize("value", [None, ["a", "b"]])
    async def test_refuses_a_value_its_sql_cannot_hold(self, world: World, value: Any) -> None:
        """`None` needs `IS NULL` and a list one placeholder per item: the SQL built once has
        neither."""
        from portal.tenants.tables import Consortium

        query = prepared(lambda p: Consortium.select().where(Consortium.slug == p.slug))
        with pytest.raises(TypeError, match="slug"):
            await query(slug=value)
        with pytest.raises(TypeError, match="no value for 'slug'"):
            await query()

    async def test_refuses_a_placeholder_written_into_the_sql_text(self, world: World) -> None:
        from piccolo.querystring import QueryString

        from portal.tenants.tables import Consortium

        query = prepared(lambda p: Consortium.select().where(QueryString(f"slug = '{p.slug}'")))
        with pytest.raises(TypeError, match="cannot go there"):
            await query(slug=world.tenant.slug)


class _Values:
    """The values themselves where the query is built each time."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)
