"""The scoped queries tenant repositories are written with, and the marker of those that are not.

Every tenant table has a non-null `consortium` column. `select`, `count`, `exists`, `update` and
`delete` return the Piccolo query already filtered by the scope's consortium: the caller chains
`.where(...)` (piccolo ANDs successive `where` calls), `.order_by(...)`, `.first()`, joins
through foreign keys... `insert` and `add` stamp the consortium on the new rows. The tables come
from the caller: core knows no domain.

A repository function that takes no `TenantScope` says why with `@unscoped("...")` (a secret
token found before any scope, a housekeeping scan of every consortium...);
`tests/test_tenant_scoping.py` fails on a public function of a tenant repository that does
neither. Not to be confused with `portal.core.scope.unscoped()`, the database scope that shows
no tenant row.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from piccolo.query import Count, Delete, Exists, Insert, Select, Update
from piccolo.table import Table

from portal.core.tenancy import TenantScope

T = TypeVar("T", bound=Table)
F = TypeVar("F", bound=Callable[..., Any])

REASON = "unscoped_because"


def mine(scope: TenantScope, table: type[Table]) -> Any:
    """The WHERE clause of the scope's rows, for a query the helpers below do not build."""
    return table.consortium == scope.consortium_id  # type: ignore[attr-defined]


def select(scope: TenantScope, table: type[T], *columns: Any) -> Select[T]:
    query: Select[T] = table.select(*columns).where(mine(scope, table))
    return query


def count(scope: TenantScope, table: type[Table]) -> Count:
    return table.count().where(mine(scope, table))


def exists(scope: TenantScope, table: type[T]) -> Exists[T]:
    query: Exists[T] = table.exists().where(mine(scope, table))
    return query


def update(scope: TenantScope, table: type[T], values: Mapping[Any, Any]) -> Update[T]:
    """`values` by column or by column name, as `Table.update` takes them."""
    query: Update[T] = table.update(dict(values)).where(mine(scope, table))
    return query


def delete(scope: TenantScope, table: type[Table]) -> Delete:
    return table.delete().where(mine(scope, table))


def insert(scope: TenantScope, table: type[T], *rows: Mapping[str, Any]) -> Insert[T]:
    """The rows stamped with the scope's consortium (a `consortium` of their own is refused)."""
    return table.insert(*(table(consortium=scope.consortium_id, **values) for values in rows))


async def add(scope: TenantScope, table: type[Table], values: Mapping[str, Any]) -> uuid.UUID:
    """One row stamped with the scope's consortium; its id."""
    row = table(consortium=scope.consortium_id, **values)
    await row.save()
    return row.id  # type: ignore[attr-defined,no-any-return]


def unscoped(reason: str) -> Callable[[F], F]:
    """Marks a repository function that takes no scope, with the reason (kept on the function,
    read by the meta-test and by reviewers: search for `@unscoped(`)."""
    if not reason.strip():
        raise ValueError("an unscoped repository function says why")

    def mark(function: F) -> F:
        setattr(function, REASON, reason)
        return function

    return mark
