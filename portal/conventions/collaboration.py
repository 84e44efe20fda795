"""Working together on the articles: edits guarded against lost updates, comments with
@mentions notified through the job layer, and proposals the pilot accepts or rejects; every
step stays in the article's history."""

from __future__ import annotations

import re
import uuid
from typing import Any

from portal.audit.enums import AuditTag
from portal.auth.service import CurrentUser
from portal.conventions import access, models, repository, text
from portal.conventions.content import content
from portal.conventions.drafting import insert_article
from portal.conventions.enums import (
    RevisionAction,
    SuggestionStatus,
)
from portal.conventions.service import (
    Opened,
    Row,
    record,
    require_edit,
    subject,
)
from portal.core import clock
from portal.core.actor import Actor
from portal.core.db import transaction
from portal.core.forms import FieldError
from portal.core.tenancy import TenantContext
from portal.notifications import service as notifications
from portal.tenants import service as tenants


class EditConflict(Exception):
    """Someone saved the article since this person opened it."""

    def __init__(self, current: Row) -> None:
        super().__init__("conflict")
        self.current = current


# Articles ------------------------------------------------------------------------------------


async def article_page(opened: Opened, article_id: uuid.UUID) -> dict[str, Any] | None:
    ctx = opened.ctx
    articles = await repository.articles(ctx, opened.id)
    found = next(((n, a) for n, a in enumerate(articles, 1) if a["id"] == article_id), None)
    if found is None:
        return None
    number, article = found
    c = await content(ctx, opened.row)
    comments = await repository.comments(ctx, opened.id, article_id)
    threads = [
        {**root, "replies": [r for r in comments if r["thread"] == root["id"]]}
        for root in comments
        if root["thread"] is None
    ]
    suggestions = await repository.suggestions(ctx, opened.id, article_id)
    revisions = await repository.revisions(ctx, opened.id, article_id)
    history = []
    for i, rev in enumerate(revisions):
        previous = revisions[i + 1] if i + 1 < len(revisions) else None
        history.append(
            {
                **rev,
                "action_label": RevisionAction(rev["action"]).label,
                "diff": text.diff_html(previous["body"] if previous else "", rev["body"]),
                "title_diff": text.diff_html(previous["title"] if previous else "", rev["title"]),
            }
        )
    return {
        "article": article,
        "number": number,
        "html": text.render(article["body"], c.variables),
        "threads": threads,
        "suggestions": [
            {**s, "diff": text.diff_html(article["body"], s["body"])} for s in suggestions
        ],
        "history": history,
        "variables": models.VARIABLES,
        "mentionable": await _mentionable(opened),
    }


async def add_article(
    actor: Actor, opened: Opened, user: CurrentUser, title: str, body: str
) -> uuid.UUID:
    require_edit(opened)
    if not title:
        raise FieldError("Donnez un titre à l'article.", "title")
    async with transaction():
        position = len(await repository.articles(opened.ctx, opened.id)) + 1
        article_id = await insert_article(opened.ctx, user, opened.id, position, title, body)
        await record(actor, opened, user, f"Article ajouté : {title}")
    return article_id


async def save_article(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    article_id: uuid.UUID,
    title: str,
    body: str,
    expected_revision: int,
) -> int:
    """Saves over `expected_revision` only; raises `EditConflict` with the other person's
    version when someone saved in between. Returns the new revision."""
    require_edit(opened)
    if not title:
        raise FieldError("Donnez un titre à l'article.", "title")
    current = await repository.article(opened.ctx, opened.id, article_id)
    if current is None:
        raise LookupError(article_id)
    if current["title"] == title and current["body"] == body:
        if current["revision"] != expected_revision:
            return int(current["revision"])  # same text as theirs: nothing to lose
        return expected_revision
    async with transaction():
        saved = await repository.update_article(
            opened.ctx,
            opened.id,
            article_id,
            {
                "title": title,
                "body": body,
                "updated_by": user.id,
                "updated_by_name": user.full_name,
                "updated_at": clock.now(),
            },
            expected_revision=expected_revision,
        )
        if not saved:
            latest = await repository.article(opened.ctx, opened.id, article_id)
            raise EditConflict(latest or current)
        await repository.insert_revision(
            opened.ctx,
            {
                "convention": opened.id,
                "article": article_id,
                "revision": expected_revision + 1,
                "title": title,
                "body": body,
                "action": RevisionAction.EDITED,
                "author_id": user.id,
                "author_name": user.full_name,
            },
        )
    return expected_revision + 1


async def move_article(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    article_id: uuid.UUID,
    direction: str,
) -> None:
    require_edit(opened)
    articles = await repository.articles(opened.ctx, opened.id)
    index = next((i for i, a in enumerate(articles) if a["id"] == article_id), None)
    if index is None:
        raise LookupError(article_id)
    target = index - 1 if direction == "up" else index + 1
    if not 0 <= target < len(articles):
        return
    articles[index], articles[target] = articles[target], articles[index]
    async with transaction():
        for position, article in enumerate(articles, 1):
            if article["position"] != position:
                await repository.update_article(
                    opened.ctx, opened.id, article["id"], {"position": position}
                )
        await record(
            actor,
            opened,
            user,
            f"Article « {articles[target]['title']} » déplacé en position {target + 1}",
        )


async def remove_article(
    actor: Actor, opened: Opened, user: CurrentUser, article_id: uuid.UUID
) -> None:
    require_edit(opened)
    article = await repository.article(opened.ctx, opened.id, article_id)
    if article is None:
        raise LookupError(article_id)
    async with transaction():
        await repository.update_article(
            opened.ctx, opened.id, article_id, {"removed_at": clock.now()}
        )
        await repository.insert_revision(
            opened.ctx,
            {
                "convention": opened.id,
                "article": article_id,
                "revision": article["revision"] + 1,
                "title": article["title"],
                "body": article["body"],
                "action": RevisionAction.REMOVED,
                "author_id": user.id,
                "author_name": user.full_name,
            },
        )
        remaining = await repository.articles(opened.ctx, opened.id)
        for position, other in enumerate(remaining, 1):
            if other["position"] != position:
                await repository.update_article(
                    opened.ctx, opened.id, other["id"], {"position": position}
                )
        await record(actor, opened, user, f"Article supprimé : {article['title']}")


# Comments, mentions, proposals ----------------------------------------------------------------

MENTION = re.compile(r"(?<![\w.])@([\w][\w.\-]*[\w])", re.UNICODE)


def handle(email: str) -> str:
    return email.split("@", 1)[0].lower()


async def _mentionable(opened: Opened) -> list[Row]:
    """Active members who may see this convention, with the handle to mention them by."""
    people = []
    for m in await tenants.members(opened.ctx):
        if not m["is_active"]:
            continue
        if access.may_view(m["role"], m["organisation_id"], opened.row["kind"], opened.parties):
            people.append({**m, "handle": handle(m["email"])})
    return people


async def add_comment(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    article_id: uuid.UUID,
    body: str,
    thread_id: uuid.UUID | None,
) -> uuid.UUID:
    if not opened.may_comment:
        if not opened.editable:
            raise FieldError(
                "Les commentaires sont fermés : la convention n'est plus en rédaction.", "body"
            )
        raise PermissionError(opened.id)
    if not body:
        raise FieldError("Écrivez votre commentaire.", "body")
    article = await repository.article(opened.ctx, opened.id, article_id)
    if article is None:
        raise LookupError(article_id)
    if thread_id is not None:
        root = await repository.comment(opened.ctx, opened.id, thread_id)
        if root is None or root["article"] != article_id or root["thread"] is not None:
            raise LookupError(thread_id)
    people = {p["handle"]: p for p in await _mentionable(opened)}
    mentioned = {
        people[h]["user_id"] for h in (m.lower() for m in MENTION.findall(body)) if h in people
    } - {user.id}
    async with transaction():
        comment_id = await repository.insert_comment(
            opened.ctx,
            {
                "convention": opened.id,
                "article": article_id,
                "thread": thread_id,
                "author_id": user.id,
                "author_name": user.full_name,
                "organisation_name": await _organisation_name(opened.ctx),
                "body": body,
            },
        )
        if mentioned:
            await notifications.notify(
                sorted(mentioned),
                kind="convention_mention",
                title=f"{user.full_name} vous mentionne sur « {article['title']} »",
                body=f"{opened.row['title']} ({opened.row['reference']}) : {body[:300]}",
                link=f"{opened.base}/articles/{article_id}#commentaire-{comment_id}",
                subject=subject(opened.id),
                consortium_id=opened.ctx.consortium_id,
            )
    return comment_id


async def _organisation_name(ctx: TenantContext) -> str:
    organisation = await tenants.organisation_in(ctx, ctx.organisation_id)
    return organisation["name"] if organisation else ""


async def resolve_thread(opened: Opened, user: CurrentUser, thread_id: uuid.UUID) -> None:
    if not opened.may_comment:
        raise PermissionError(opened.id)
    if not await repository.resolve_thread(
        opened.ctx, opened.id, thread_id, clock.now(), user.full_name
    ):
        raise LookupError(thread_id)


async def suggest(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    article_id: uuid.UUID,
    title: str,
    body: str,
    explanation: str,
) -> uuid.UUID:
    if not opened.may_suggest:
        if not opened.editable:
            raise FieldError("La convention n'est plus en rédaction.", "suggestion_body")
        raise PermissionError(opened.id)
    article = await repository.article(opened.ctx, opened.id, article_id)
    if article is None:
        raise LookupError(article_id)
    title = title or article["title"]
    if title == article["title"] and body == article["body"]:
        raise FieldError(
            "Votre proposition est identique au texte actuel : modifiez le texte.",
            "suggestion_body",
        )
    async with transaction():
        suggestion_id = await repository.insert_suggestion(
            opened.ctx,
            {
                "convention": opened.id,
                "article": article_id,
                "base_revision": article["revision"],
                "title": title,
                "body": body,
                "explanation": explanation,
                "author_id": user.id,
                "author_name": user.full_name,
                "organisation_name": await _organisation_name(opened.ctx),
                "status": SuggestionStatus.PENDING,
            },
        )
        await record(
            actor, opened, user, f"Modification proposée sur l'article « {article['title']} »"
        )
        await notifications.notify(
            await tenants.active_pilots(opened.ctx),
            kind="convention_suggestion",
            title=f"{user.full_name} propose une modification de « {article['title']} »",
            body=f"{opened.row['title']} ({opened.row['reference']})",
            link=f"{opened.base}/articles/{article_id}#propositions",
            subject=subject(opened.id),
            consortium_id=opened.ctx.consortium_id,
        )
    return suggestion_id


async def decide(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    suggestion_id: uuid.UUID,
    accept: bool,
    note: str,
) -> None:
    require_edit(opened)
    proposal = await repository.suggestion(opened.ctx, opened.id, suggestion_id)
    if proposal is None:
        raise LookupError(suggestion_id)
    if proposal["status"] != SuggestionStatus.PENDING:
        raise FieldError("Cette proposition a déjà été traitée.", "decision")
    article = await repository.article(opened.ctx, opened.id, proposal["article"])
    if article is None:
        raise LookupError(proposal["article"])
    if accept and article["revision"] != proposal["base_revision"]:
        raise FieldError(
            "L'article a été modifié depuis cette proposition : l'accepter effacerait ces "
            "changements. Rejetez-la en expliquant pourquoi, ou reprenez-la à la main.",
            "decision",
        )
    async with transaction():
        if not await repository.decide_suggestion(
            opened.ctx,
            opened.id,
            suggestion_id,
            {
                "status": SuggestionStatus.ACCEPTED if accept else SuggestionStatus.REJECTED,
                "decided_by_name": user.full_name,
                "decided_at": clock.now(),
                "decision_note": note,
            },
        ):
            raise FieldError("Cette proposition a déjà été traitée.", "decision")
        if accept:
            if not await repository.update_article(
                opened.ctx,
                opened.id,
                article["id"],
                {
                    "title": proposal["title"],
                    "body": proposal["body"],
                    "updated_by": user.id,
                    "updated_by_name": user.full_name,
                    "updated_at": clock.now(),
                },
                expected_revision=proposal["base_revision"],
            ):
                raise FieldError("L'article vient d'être modifié : rechargez la page.", "decision")
            await repository.insert_revision(
                opened.ctx,
                {
                    "convention": opened.id,
                    "article": article["id"],
                    "revision": proposal["base_revision"] + 1,
                    "title": proposal["title"],
                    "body": proposal["body"],
                    "action": RevisionAction.SUGGESTION_ACCEPTED,
                    "note": f"proposée par {proposal['author_name']}, acceptée par "
                    f"{user.full_name}" + (f" : {note}" if note else ""),
                    "author_id": proposal["author_id"],
                    "author_name": proposal["author_name"],
                },
            )
        verdict = "acceptée" if accept else "rejetée"
        await record(
            actor,
            opened,
            user,
            f"Proposition de {proposal['author_name']} sur « {article['title']} » {verdict}"
            + (f" : {note}" if note else ""),
            AuditTag.CONVENTION_SUGGESTION_DECIDED,
            suggestion=str(suggestion_id),
            accepted=accept,
        )
        await notifications.notify(
            [proposal["author_id"]],
            kind="convention_suggestion_decided",
            title=f"Votre proposition sur « {article['title']} » a été {verdict}",
            body=note,
            link=f"{opened.base}/articles/{article['id']}#propositions",
            subject=subject(opened.id),
            consortium_id=opened.ctx.consortium_id,
        )
