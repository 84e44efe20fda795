"""Queries on conventions and everything they hold; every function is tenant-scoped."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from portal.conventions.access import PartySight
from portal.conventions.tables import (
    Annex,
    Article,
    ArticleRevision,
    BudgetLine,
    Comment,
    Convention,
    Indicator,
    Party,
    Suggestion,
    Version,
)
from portal.core import scoped
from portal.core.prepared import prepared
from portal.core.tenancy import TenantScope
from portal.core.visibility import EVERYTHING, Reach, within

Row = dict[str, Any]


# Conventions -------------------------------------------------------------------------------


async def insert_convention(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Convention, values)


async def conventions(scope: TenantScope, reach: Reach = EVERYTHING) -> list[Row]:
    query = scoped.select(scope, Convention).order_by(Convention.created_at, ascending=False)
    if (seen := within(reach, Convention.id)) is not None:
        query = query.where(seen)
    rows: list[Row] = await query
    return rows


# The reads of a convention's pages, each of a fixed shape: built once (`core/prepared.py`).
_CONVENTION = prepared(
    lambda p: scoped.select(p.scope, Convention).where(Convention.id == p.convention_id).first()
)


async def convention(scope: TenantScope, convention_id: uuid.UUID) -> Row | None:
    row: Row | None = await _CONVENTION(scope=scope, convention_id=convention_id)
    return row


async def references_like(scope: TenantScope, prefix: str) -> list[str]:
    rows = await scoped.select(scope, Convention, Convention.reference).where(
        Convention.reference.like(f"{prefix}%")
    )
    return [r["reference"] for r in rows]


async def count_children(scope: TenantScope, parent_id: uuid.UUID, origin: str) -> int:
    count: int = await scoped.count(scope, Convention).where(
        (Convention.parent == parent_id) & (Convention.origin == origin)
    )
    return count


async def update_convention(
    scope: TenantScope,
    convention_id: uuid.UUID,
    values: dict[str, Any],
    *,
    revision: int | None = None,
    status_in: list[str] | None = None,
) -> bool:
    """Conditional update: False when the revision or the status moved meanwhile."""
    condition: Any = Convention.id == convention_id
    if revision is not None:
        condition &= Convention.revision == revision
        values = {**values, "revision": revision + 1}
    if status_in is not None:
        condition &= Convention.status.is_in(status_in)
    rows = await scoped.update(scope, Convention, values).where(condition).returning(Convention.id)
    return bool(rows)


# Parties -----------------------------------------------------------------------------------

_PARTY_COLUMNS = (
    *Party.all_columns(),
    Party.organisation.name.as_alias("organisation_name"),
    Party.organisation.siret.as_alias("organisation_siret"),
    Party.organisation.city.as_alias("organisation_city"),
)


_PARTIES = prepared(
    lambda p: (
        scoped.select(p.scope, Party, *_PARTY_COLUMNS)
        .where(Party.convention == p.convention_id)
        .order_by(Party.position)
        .order_by(Party.organisation.name)
    )
)


async def parties(scope: TenantScope, convention_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = await _PARTIES(scope=scope, convention_id=convention_id)
    return rows


async def reached(scope: TenantScope, sight: PartySight) -> frozenset[uuid.UUID]:
    """The conventions `sight` reaches when it does not reach all (see `access.party_sight`)."""
    where: Any = Party.organisation == sight.organisation
    if sight.kinds is not None:
        where &= Party.convention.kind.is_in(sorted(sight.kinds))
    return frozenset(
        r["convention"] for r in await scoped.select(scope, Party, Party.convention).where(where)
    )


async def insert_party(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Party, values)


async def update_party(
    scope: TenantScope, convention_id: uuid.UUID, party_id: uuid.UUID, values: dict[str, Any]
) -> bool:
    rows = (
        await scoped.update(scope, Party, values)
        .where((Party.convention == convention_id) & (Party.id == party_id))
        .returning(Party.id)
    )
    return bool(rows)


async def delete_party(scope: TenantScope, convention_id: uuid.UUID, party_id: uuid.UUID) -> bool:
    rows = (
        await scoped.delete(scope, Party)
        .where((Party.convention == convention_id) & (Party.id == party_id))
        .returning(Party.id)
    )
    return bool(rows)


# Articles ----------------------------------------------------------------------------------


_ARTICLES = prepared(
    lambda p: (
        scoped.select(p.scope, Article)
        .where((Article.convention == p.convention_id) & Article.removed_at.is_null())
        .order_by(Article.position)
    )
)


async def articles(scope: TenantScope, convention_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = await _ARTICLES(scope=scope, convention_id=convention_id)
    return rows


async def article(
    scope: TenantScope, convention_id: uuid.UUID, article_id: uuid.UUID
) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Article)
        .where(
            (Article.convention == convention_id)
            & (Article.id == article_id)
            & Article.removed_at.is_null()
        )
        .first()
    )
    return row


async def insert_article(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Article, values)


async def update_article(
    scope: TenantScope,
    convention_id: uuid.UUID,
    article_id: uuid.UUID,
    values: dict[str, Any],
    expected_revision: int | None = None,
) -> bool:
    """With `expected_revision`, updates only if nobody saved in between (and bumps it)."""
    condition = (Article.convention == convention_id) & (Article.id == article_id)
    condition &= Article.removed_at.is_null()
    if expected_revision is not None:
        condition &= Article.revision == expected_revision
        values = {**values, "revision": expected_revision + 1}
    rows = await scoped.update(scope, Article, values).where(condition).returning(Article.id)
    return bool(rows)


async def insert_revision(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, ArticleRevision, values)


async def revisions(
    scope: TenantScope, convention_id: uuid.UUID, article_id: uuid.UUID | None = None
) -> list[Row]:
    condition: Any = ArticleRevision.convention == convention_id
    if article_id is not None:
        condition &= ArticleRevision.article == article_id
    rows: list[Row] = (
        await scoped.select(scope, ArticleRevision)
        .where(condition)
        .order_by(ArticleRevision.at, ascending=False)
        .order_by(ArticleRevision.revision, ascending=False)
    )
    return rows


# Comments and suggestions ------------------------------------------------------------------


_COMMENTS = prepared(
    lambda p: (
        scoped.select(p.scope, Comment)
        .where(Comment.convention == p.convention_id)
        .order_by(Comment.created_at)
    )
)


async def comments(
    scope: TenantScope, convention_id: uuid.UUID, article_id: uuid.UUID | None = None
) -> list[Row]:
    if article_id is None:
        every: list[Row] = await _COMMENTS(scope=scope, convention_id=convention_id)
        return every
    rows: list[Row] = (
        await scoped.select(scope, Comment)
        .where((Comment.convention == convention_id) & (Comment.article == article_id))
        .order_by(Comment.created_at)
    )
    return rows


async def comment(
    scope: TenantScope, convention_id: uuid.UUID, comment_id: uuid.UUID
) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Comment)
        .where((Comment.convention == convention_id) & (Comment.id == comment_id))
        .first()
    )
    return row


async def insert_comment(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Comment, values)


async def resolve_thread(
    scope: TenantScope, convention_id: uuid.UUID, thread_id: uuid.UUID, at: dt.datetime, by: str
) -> bool:
    rows = (
        await scoped.update(scope, Comment, {Comment.resolved_at: at, Comment.resolved_by_name: by})
        .where(
            (Comment.convention == convention_id)
            & (Comment.id == thread_id)
            & Comment.thread.is_null()
            & Comment.resolved_at.is_null()
        )
        .returning(Comment.id)
    )
    return bool(rows)


_SUGGESTIONS = prepared(
    lambda p: (
        scoped.select(p.scope, Suggestion)
        .where(Suggestion.convention == p.convention_id)
        .order_by(Suggestion.created_at)
    )
)


async def suggestions(
    scope: TenantScope, convention_id: uuid.UUID, article_id: uuid.UUID | None = None
) -> list[Row]:
    if article_id is None:
        every: list[Row] = await _SUGGESTIONS(scope=scope, convention_id=convention_id)
        return every
    rows: list[Row] = (
        await scoped.select(scope, Suggestion)
        .where((Suggestion.convention == convention_id) & (Suggestion.article == article_id))
        .order_by(Suggestion.created_at)
    )
    return rows


async def suggestion(
    scope: TenantScope, convention_id: uuid.UUID, suggestion_id: uuid.UUID
) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Suggestion)
        .where((Suggestion.convention == convention_id) & (Suggestion.id == suggestion_id))
        .first()
    )
    return row


async def insert_suggestion(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Suggestion, values)


async def decide_suggestion(
    scope: TenantScope, convention_id: uuid.UUID, suggestion_id: uuid.UUID, values: dict[str, Any]
) -> bool:
    """Only a pending proposal can be decided, once."""
    rows = (
        await scoped.update(scope, Suggestion, values)
        .where(
            (Suggestion.convention == convention_id)
            & (Suggestion.id == suggestion_id)
            & (Suggestion.status == "pending")
        )
        .returning(Suggestion.id)
    )
    return bool(rows)


# Budget, indicators, annexes ---------------------------------------------------------------


_BUDGET_LINES = prepared(
    lambda p: (
        scoped.select(p.scope, BudgetLine)
        .where(BudgetLine.convention == p.convention_id)
        .order_by(BudgetLine.created_at)
    )
)


async def budget_lines(scope: TenantScope, convention_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = await _BUDGET_LINES(scope=scope, convention_id=convention_id)
    return rows


async def insert_budget_line(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, BudgetLine, values)


async def delete_budget_line(
    scope: TenantScope, convention_id: uuid.UUID, line_id: uuid.UUID
) -> Row | None:
    rows = (
        await scoped.delete(scope, BudgetLine)
        .where((BudgetLine.convention == convention_id) & (BudgetLine.id == line_id))
        .returning(*BudgetLine.all_columns())
    )
    return rows[0] if rows else None


_INDICATORS = prepared(
    lambda p: (
        scoped.select(p.scope, Indicator)
        .where(Indicator.convention == p.convention_id)
        .order_by(Indicator.created_at)
    )
)


async def indicators(scope: TenantScope, convention_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = await _INDICATORS(scope=scope, convention_id=convention_id)
    return rows


async def insert_indicator(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Indicator, values)


async def delete_indicator(
    scope: TenantScope, convention_id: uuid.UUID, indicator_id: uuid.UUID
) -> Row | None:
    rows = (
        await scoped.delete(scope, Indicator)
        .where((Indicator.convention == convention_id) & (Indicator.id == indicator_id))
        .returning(*Indicator.all_columns())
    )
    return rows[0] if rows else None


_ANNEXES = prepared(
    lambda p: (
        scoped.select(p.scope, Annex)
        .where((Annex.convention == p.convention_id) & Annex.removed_at.is_null())
        .order_by(Annex.uploaded_at)
    )
)


async def annexes(scope: TenantScope, convention_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = await _ANNEXES(scope=scope, convention_id=convention_id)
    return rows


async def annex(scope: TenantScope, convention_id: uuid.UUID, annex_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Annex)
        .where((Annex.convention == convention_id) & (Annex.id == annex_id))
        .first()
    )
    return row


async def insert_annex(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Annex, values)


async def remove_annex(
    scope: TenantScope, convention_id: uuid.UUID, annex_id: uuid.UUID, at: dt.datetime
) -> bool:
    """Kept in storage: a frozen version may include it."""
    rows = (
        await scoped.update(scope, Annex, {Annex.removed_at: at})
        .where(
            (Annex.convention == convention_id)
            & (Annex.id == annex_id)
            & Annex.removed_at.is_null()
        )
        .returning(Annex.id)
    )
    return bool(rows)


# Versions (insert-only) --------------------------------------------------------------------


_VERSIONS = prepared(
    lambda p: (
        scoped.select(
            p.scope, Version, *(c for c in Version.all_columns() if c._meta.name != "snapshot")
        )
        .where(Version.convention == p.convention_id)
        .order_by(Version.number, ascending=False)
    )
)


async def versions(scope: TenantScope, convention_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = await _VERSIONS(scope=scope, convention_id=convention_id)
    return rows


async def version(scope: TenantScope, convention_id: uuid.UUID, number: int) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Version)
        .where((Version.convention == convention_id) & (Version.number == number))
        .output(load_json=True)
        .first()
    )
    return row


async def version_by_id(scope: TenantScope, version_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Version)
        .where(Version.id == version_id)
        .output(load_json=True)
        .first()
    )
    return row


async def next_version_number(scope: TenantScope, convention_id: uuid.UUID) -> int:
    row = (
        await scoped.select(scope, Version, Version.number)
        .where(Version.convention == convention_id)
        .order_by(Version.number, ascending=False)
        .first()
    )
    return (row["number"] if row else 0) + 1


async def insert_version(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Version, values)
