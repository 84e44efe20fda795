"""Queries whose SQL is built once per process, for those every page runs.

piccolo builds a query's SQL again from its column objects on each run: walking the joins of
every column reached through a foreign key, copying column chains, bundling nested query
strings. On the tenant home page that took more CPU than everything else the request does,
template included. A query written with `prepared` is built once, with named placeholders
where its values go, compiled at its first run; a run fills in the values and hands piccolo
the compiled SQL, so piccolo still runs it (its engine, the request's held connection and the
scope's settings, transactions) and still shapes its rows (`first()`, `count()`, aliases).

    _SESSION = prepared(
        lambda p: AuthSession.select(*COLUMNS).where(AuthSession.token_hash == p.token_hash).first()
    )
    row = await _SESSION(token_hash=digest)

A placeholder stands for one value compared or assigned as is: not `None` (piccolo writes
`IS NULL` for it when it builds the query) and not a list (an `IN (...)` has as many
placeholders as items). `p.scope.consortium_id` reads an attribute of the value given, so
`scoped.select(p.scope, Table)` keeps the scope's filter and `run(scope=scope)` fills it in.
"""

from __future__ import annotations

import copy
import enum
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from piccolo.query.proxy import Proxy
from piccolo.querystring import QueryString

R = TypeVar("R")


class Placeholder:
    """A value given at each run: `name`, then the attributes `path` reads from it."""

    __slots__ = ("name", "path")

    def __init__(self, name: str, path: tuple[str, ...] = ()) -> None:
        self.name, self.path = name, path

    def __getattr__(self, attribute: str) -> Placeholder:
        if attribute.startswith("__"):
            raise AttributeError(attribute)  # copy, pickle and friends probe for these
        return Placeholder(self.name, (*self.path, attribute))

    def value(self, values: dict[str, Any]) -> Any:
        try:
            found = values[self.name]
        except KeyError:
            raise TypeError(f"prepared query: no value for {self.name!r}") from None
        for attribute in self.path:
            found = getattr(found, attribute)
        if found is None or isinstance(found, list | tuple | set | dict):
            raise TypeError(f"prepared query: {self.name!r} cannot be {type(found).__name__}")
        return found.value if isinstance(found, enum.Enum) else found


class _Placeholders:
    def __getattr__(self, name: str) -> Placeholder:
        return Placeholder(name)


class Prepared(Generic[R]):
    def __init__(self, build: Callable[[Any], Any]) -> None:
        self._build = build
        # The query built with placeholders, its SQL and its arguments in order: compiled at
        # the first run, when the tables have their engine.
        self._compiled: tuple[Any, str, list[Any], QueryString] | None = None

    def _compile(self) -> tuple[Any, str, list[Any], QueryString]:
        built = self._build(_Placeholders())
        query = built.query if isinstance(built, Proxy) else built
        (querystring,) = query.querystrings  # one statement
        sql, arguments = querystring.compile_string(engine_type=query.engine_type)
        if Placeholder.__name__ in sql:  # written into the text (a LIMIT, say), not bound
            raise TypeError(f"prepared query: a placeholder cannot go there: {sql}")
        return built, sql, arguments, querystring

    async def __call__(self, **values: Any) -> R:
        if self._compiled is None:
            self._compiled = self._compile()
        built, sql, arguments, source = self._compiled
        compiled = QueryString("", query_type=source.query_type, table=source.table)
        compiled._frozen_compiled_strings = (
            sql,
            [a.value(values) if isinstance(a, Placeholder) else a for a in arguments],
        )
        # A shallow copy per run: concurrent runs of one prepared query never share the
        # compiled arguments (the copies share the clauses, which a run only reads).
        proxy = isinstance(built, Proxy)  # `first()` wraps the query
        query = copy.copy(built.query if proxy else built)
        query._frozen_querystrings = (compiled,)
        result: R = await (type(built)(query) if proxy else query).run()
        return result


def prepared(build: Callable[[Any], Any]) -> Prepared[Any]:
    """`build(p)` returns the query, `p.name` standing for each value given at run time."""
    return Prepared(build)
