"""The database keeps a child row with a parent of its own consortium, and every tenant table
has an index led by the consortium, with the foreign keys pages join by indexed (PostgreSQL:
SQLite cannot add a constraint to an existing table)."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg
import pytest
from piccolo.conf.apps import Finder

from portal.core.db import engine, transaction
from tests.conftest import World

pytestmark = pytest.mark.postgres_only

# Foreign keys towards tables every consortium shares, or that no page joins by.
NOT_TENANT_PARENTS = {"tenants_consortium", "tenants_organisation", "auth_user"}


def tenant_tables() -> dict[str, dict[str, str]]:
    """Tenant table → {foreign-key column: referenced table}."""
    found = {}
    for table in Finder().get_table_classes():
        if "consortium" in {c._meta.name for c in table._meta.columns}:
            found[table._meta.tablename] = {
                c._meta.db_column_name: c._foreign_key_meta.resolved_references._meta.tablename
                for c in table._meta.foreign_key_columns
                if c._meta.name != "consortium"
            }
    return found


async def _rows(sql: str, *args: Any) -> list[dict[str, Any]]:
    from piccolo.querystring import QueryString

    return [dict(r) for r in await engine().run_querystring(QueryString(sql, *args))]


async def index_columns() -> dict[str, list[list[str]]]:
    """Table → the column lists of its indexes, in order."""
    rows = await _rows(
        "SELECT t.relname AS tab, i.indexrelid::regclass::text AS idx, a.attname AS col, k.n "
        "FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
        "JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) ON true "
        "JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum "
        "WHERE t.relnamespace = 'public'::regnamespace ORDER BY 1, 2, 4"
    )
    indexes: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        indexes.setdefault((row["tab"], row["idx"]), []).append(row["col"])
    found: dict[str, list[list[str]]] = {}
    for (table, _), columns in indexes.items():
        found.setdefault(table, []).append(columns)
    return found


class TestIndexes:
    async def test_every_tenant_table_has_an_index_led_by_the_consortium(self) -> None:
        indexes = await index_columns()
        missing = [t for t in tenant_tables() if not any(c[0] == "consortium" for c in indexes[t])]
        assert missing == []

    async def test_every_foreign_key_of_a_tenant_table_is_indexed(self) -> None:
        """By an index that starts with it, or with the consortium then it."""
        indexes = await index_columns()
        missing = [
            f"{table}.{column}"
            for table, parents in tenant_tables().items()
            for column in parents
            if not any(c[0] == column or c[:2] == ["consortium", column] for c in indexes[table])
            and column != "invited_by"  # who sent an invitation: shown, never searched by
        ]
        assert missing == []


class TestSameConsortium:
    async def test_every_tenant_parent_is_held_by_a_composite_foreign_key(self) -> None:
        keys = {
            (r["tab"], r["col"])
            for r in await _rows(
                "SELECT c.conrelid::regclass::text AS tab, a.attname AS col "
                "FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid "
                "AND a.attnum = c.conkey[2] "
                "WHERE c.contype = 'f' AND array_length(c.conkey, 1) = 2"
            )
        }
        expected = {
            (table, column)
            for table, parents in tenant_tables().items()
            for column, parent in parents.items()
            if parent not in NOT_TENANT_PARENTS
        }
        assert expected - keys == set()
        assert ("signing_request", "version") in keys  # a real foreign key now

    async def test_a_child_cannot_point_at_another_consortiums_parent(self, world: World) -> None:
        convention_id = uuid.uuid4()
        await _rows(
            "INSERT INTO conventions_convention (id, consortium, kind, title, status, reference)"
            " VALUES ({}, {}, 'partnership', 'Convention A', 'draft', 'A-1')",
            convention_id,
            world.tenant.id,
        )
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            async with transaction():
                await _rows(
                    "INSERT INTO conventions_article (id, consortium, convention, position,"
                    " title, body) VALUES ({}, {}, {}, 1, 'Objet', '')",
                    uuid.uuid4(),
                    world.other_tenant.id,  # B's row under A's convention
                    convention_id,
                )
        assert await _rows("SELECT id FROM conventions_article") == []
