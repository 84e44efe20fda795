"""What a convention's pages show: the detail page (content, threads, versions, what may be
done next) and the budget page."""

from __future__ import annotations

import uuid
from typing import Any

from portal.conventions import access, budget, lifecycle, models, repository, text
from portal.conventions.content import blockers, content
from portal.conventions.enums import (
    ConventionKind,
    ConventionStatus,
    DisplayStatus,
    ExpenseCategory,
    Funder,
    IndicatorKind,
    PartyRole,
    SuggestionStatus,
)
from portal.conventions.service import Opened, Row, display_status
from portal.core.forms import FieldError
from portal.signing import service as signing
from portal.tenants import service as tenants


async def detail(opened: Opened) -> dict[str, Any]:
    ctx, row = opened.ctx, opened.row
    c = await content(ctx, row)
    comments = await repository.comments(ctx, opened.id)
    suggestions = await repository.suggestions(ctx, opened.id)
    pending = [s for s in suggestions if s["status"] == SuggestionStatus.PENDING]
    c.extra["pending_suggestions"] = len(pending)
    chained = await repository.conventions(ctx)
    c.extra["overlaps"] = lifecycle.overlapping(row, chained)
    open_threads: dict[uuid.UUID, int] = {}
    for comment in comments:
        if comment["thread"] is None and comment["resolved_at"] is None:
            open_threads[comment["article"]] = open_threads.get(comment["article"], 0) + 1
    pending_by_article: dict[uuid.UUID, int] = {}
    for s in pending:
        pending_by_article[s["article"]] = pending_by_article.get(s["article"], 0) + 1
    parent = await repository.convention(ctx, row["parent"]) if row["parent"] is not None else None
    status = ConventionStatus(row["status"])
    # While signers are invited, review cannot be reopened: the page offers the cancellation.
    signing_in_progress = (
        await signing.active_request(ctx, opened.id) if status == ConventionStatus.READY else None
    )
    return {
        "convention": row,
        "kind_label": ConventionKind(row["kind"]).label,
        "display": display_status(row),
        "ends_on": lifecycle.ends_on(row),
        "parties": [{**p, "role_label": PartyRole(p["role"]).label} for p in c.parties],
        "articles": [
            {
                **a,
                "number": n,
                "html": text.render(a["body"], c.variables),
                "open_threads": open_threads.get(a["id"], 0),
                "pending": pending_by_article.get(a["id"], 0),
            }
            for n, a in enumerate(c.articles, 1)
        ],
        "summary": c.summary,
        "indicators": [{**i, "kind_label": IndicatorKind(i["kind"]).label} for i in c.indicators],
        "annexes": c.annexes,
        "versions": await repository.versions(ctx, opened.id),
        "blockers": blockers(c) if status == ConventionStatus.REVIEW else [],
        "transitions": [
            (target, label)
            for (source, target), label in lifecycle.TRANSITIONS.items()
            if source == status
            and target != ConventionStatus.SIGNED
            and not (signing_in_progress and target == ConventionStatus.REVIEW)
        ],
        "signing_in_progress": signing_in_progress,
        "parent": parent,
        "organisations": await tenants.organisations(ctx),
        "party_roles": list(PartyRole),
        "indicator_kinds": list(IndicatorKind),
        "variables": models.VARIABLES,
        "durations": lifecycle.INITIAL_DURATIONS,
        "can_amend": display_status(row)
        in {DisplayStatus.SIGNED, DisplayStatus.IN_FORCE, DisplayStatus.EXPIRED}
        and access.may_edit(ctx.role),
        "months_left": lifecycle.MAX_TOTAL_MONTHS - row["months_before"] - row["duration_months"],
        "renewed_by": lifecycle.renewal_of(row, chained),
        "renewal_refusal": _renewal_refusal(row, chained),
    }


def _renewal_refusal(row: Row, chained: list[Row]) -> str:
    """Why this signed convention offers no renewal (empty: it does)."""
    if row["status"] != ConventionStatus.SIGNED:
        return ""
    try:
        lifecycle.check_renewable(row, chained)
    except FieldError as exc:
        return exc.message
    return ""


async def budget_page(opened: Opened) -> dict[str, Any]:
    c = await content(opened.ctx, opened.row)
    expenses = [
        {**line, "category_label": ExpenseCategory(line["category"]).label}
        for line in c.lines
        if line["side"] == budget.EXPENSE
    ]
    resources = [
        {**line, "funder_label": Funder(line["category"]).label}
        for line in c.lines
        if line["side"] == budget.RESOURCE
    ]
    return {
        "convention": opened.row,
        "expenses": expenses,
        "resources": resources,
        "summary": c.summary,
        "categories": list(ExpenseCategory),
        "funders": list(Funder),
    }
