"""Whose rows the database shows: the consortium in force, or the platform, for this task.

On PostgreSQL, row-level security (`portal/rls/`) lets a connection see and write the rows of
`portal.consortium` only, or every row while `portal.platform` is "on". Those two settings are
taken from here: each connection acquired from the pool receives them (`portal.core.pg`), and a
scope entered while a transaction is open is applied to that transaction's connection at once.

Three places set the scope: `TenantMiddleware` (the consortium of the space a member entered),
the job runner (the consortium its outbox row carries) and `platform_scope(reason)`, the single
escape hatch, for the few paths that look across consortia before one is known or on behalf of
all of them. Search for `platform_scope(` to review them. Anything else runs with no scope and
sees no tenant row. SQLite has no row-level security: there the scope is only this variable.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("portal.scope")

# set_config(name, value, is_local): session-wide on a connection acquired by a task of another
# scope than its last one (`portal.core.pg.apply_scope`), transaction-local when a scope changes
# inside a transaction.
SET_SQL = "SELECT set_config('portal.consortium', $1, $3), set_config('portal.platform', $2, $3)"


@dataclass(frozen=True)
class Scope:
    consortium: uuid.UUID | None = None
    platform: bool = False

    def settings(self) -> tuple[str, str]:
        """The values of `portal.consortium` and `portal.platform` ('' for none)."""
        return (str(self.consortium) if self.consortium else "", "on" if self.platform else "")


NONE = Scope()
_current: ContextVar[Scope] = ContextVar("portal_scope", default=NONE)


def current() -> Scope:
    return _current.get()


def current_consortium() -> uuid.UUID | None:
    return _current.get().consortium


@contextlib.asynccontextmanager
async def consortium_scope(consortium_id: uuid.UUID | None) -> AsyncIterator[None]:
    """The rows of this consortium only (None: no tenant row), even inside a platform scope."""
    async with _entered(Scope(consortium=consortium_id)):
        yield


@contextlib.asynccontextmanager
async def platform_scope(reason: str) -> AsyncIterator[None]:
    """Every consortium's rows, for a path that must look across them (say why: the reason is
    logged, and reviewed with every call site)."""
    log.debug("Portée plateforme : %s", reason)
    async with _entered(Scope(consortium=current_consortium(), platform=True)):
        yield


@contextlib.asynccontextmanager
async def unscoped() -> AsyncIterator[None]:
    """No scope at all: what a request starts with, whatever the context of its caller."""
    async with _entered(NONE):
        yield


@contextlib.asynccontextmanager
async def _entered(scope: Scope) -> AsyncIterator[None]:
    previous = _current.get()
    token = _current.set(scope)
    connection = _transaction_connection() if scope != previous else None
    try:
        if connection is not None:
            await connection.execute(SET_SQL, *scope.settings(), True)
        yield
    except BaseException:
        if connection is not None:
            # Restored if it can be; if not, the transaction is lost anyway, or aborted and
            # its rollback (or one to a savepoint taken before this scope) undoes the setting.
            with contextlib.suppress(Exception):
                await connection.execute(SET_SQL, *previous.settings(), True)
        raise
    else:
        if connection is not None:
            await connection.execute(SET_SQL, *previous.settings(), True)
    finally:
        _current.reset(token)


def _transaction_connection() -> Any:
    """The connection of the PostgreSQL transaction open in this task, if any."""
    from portal.core import db

    engine = db.engine()
    if engine.engine_type != "postgres":
        return None
    current = engine.current_transaction.get()
    return current.connection if current is not None else None
