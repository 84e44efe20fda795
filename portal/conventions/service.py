"""Conventions: drafting from the default models, structured data, articles edited together,
comments, proposals, budget annex, versions, freezing with the PDF rendered once, avenants and
renewals. The lifecycle and its state table are in `lifecycle.py`; who may do what in
`access.py`.

Every operation on one convention takes an `Opened` convention, which only `open_convention`
builds, after the visibility check: a route cannot reach a convention its member may not see.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
import tempfile
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
from pypdf import PdfReader
from starlette.requests import Request

from portal.audit import service as audit
from portal.audit.enums import AuditTag
from portal.auth.service import CurrentUser
from portal.conventions import access, budget, lifecycle, models, pdf, repository, snapshot, text
from portal.conventions.enums import (
    ConventionKind,
    ConventionStatus,
    DisplayStatus,
    ExpenseCategory,
    Funder,
    IndicatorKind,
    Origin,
    PartyRole,
    RevisionAction,
    SuggestionStatus,
)
from portal.core import antivirus
from portal.core.db import transaction
from portal.core.forms import FieldError
from portal.core.storage import StorageError, get_storage
from portal.core.templating import PARIS, date_fr, euros
from portal.core.tenancy import TenantContext, TenantScope
from portal.documents import inspect
from portal.documents.upload import ReceivedFile, UploadRefused
from portal.notifications import service as notifications
from portal.settings import get_settings
from portal.tenants import service as tenants
from portal.tenants.enums import OrganisationKind

log = logging.getLogger("portal.conventions")
Row = dict[str, Any]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    return now().astimezone(PARIS).date()


def subject(convention_id: uuid.UUID) -> str:
    return f"convention:{convention_id}"


@dataclass(frozen=True)
class Opened:
    """A convention its member may see, with what they may do on it."""

    ctx: TenantContext
    row: Row
    parties: frozenset[uuid.UUID]

    @property
    def id(self) -> uuid.UUID:
        return uuid.UUID(str(self.row["id"]))

    @property
    def status(self) -> ConventionStatus:
        return ConventionStatus(self.row["status"])

    @property
    def editable(self) -> bool:
        return self.status in lifecycle.EDITABLE

    @property
    def may_edit(self) -> bool:
        return self.editable and access.may_edit(self.ctx.role)

    @property
    def may_comment(self) -> bool:
        return self.editable and access.may_comment(
            self.ctx.role, self.ctx.organisation_id, self.row["kind"], self.parties
        )

    @property
    def may_suggest(self) -> bool:
        return self.editable and access.may_suggest(
            self.ctx.role, self.ctx.organisation_id, self.row["kind"], self.parties
        )

    @property
    def base(self) -> str:
        return f"/c/{self.ctx.slug}/conventions/{self.id}"


class EditConflict(Exception):
    """Someone saved the article since this person opened it."""

    def __init__(self, current: Row) -> None:
        super().__init__("conflict")
        self.current = current


async def open_convention(ctx: TenantContext, convention_id: uuid.UUID) -> Opened | None:
    """The one visibility check: None (the caller answers 404) when it does not exist in this
    consortium or this member may not see it."""
    row = await repository.convention(ctx, convention_id)
    if row is None:
        return None
    parties = frozenset(p["organisation"] for p in await repository.parties(ctx, convention_id))
    if not access.may_view(ctx.role, ctx.organisation_id, row["kind"], parties):
        return None
    return Opened(ctx, row, parties)


def _require_edit(opened: Opened) -> None:
    if not access.may_edit(opened.ctx.role):
        raise PermissionError(opened.id)
    if not opened.editable:
        raise FieldError(
            "Cette convention n'est plus modifiable "
            f"({display_status(opened.row).label.lower()}) : "
            + (
                "rouvrez la relecture pour la modifier."
                if opened.status == ConventionStatus.READY
                else "créez un avenant pour la faire évoluer."
            ),
            "status",
        )


def display_status(row: Mapping[str, Any]) -> DisplayStatus:
    return lifecycle.display_status(row, today())


async def _record(
    request: Request | None,
    opened: Opened,
    user: CurrentUser,
    summary: str,
    tag: AuditTag = AuditTag.CONVENTION_CHANGED,
    **details: Any,
) -> None:
    await audit.record_action(
        tag,
        request,
        user,
        opened.ctx,
        subject=subject(opened.id),
        summary=summary,
        actor_name=user.full_name,
        **details,
    )


# Listing and creating ------------------------------------------------------------------------


async def visible_conventions(ctx: TenantContext) -> list[Row]:
    parties = await repository.party_organisations(ctx)
    result = []
    for row in await repository.conventions(ctx):
        orgs = parties.get(row["id"], set())
        if access.may_view(ctx.role, ctx.organisation_id, row["kind"], orgs):
            result.append(
                {
                    **row,
                    "kind_label": ConventionKind(row["kind"]).label,
                    "display": display_status(row),
                    "ends_on": lifecycle.ends_on(row),
                }
            )
    return result


async def _new_reference(scope: TenantScope, kind: ConventionKind) -> str:
    prefix = f"{'CP' if kind == ConventionKind.PARTNERSHIP else 'CE'}-{today().year}-"
    used = await repository.references_like(scope, prefix)
    numbers = [int(r[len(prefix) :]) for r in used if r[len(prefix) :].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


async def _default_parties(ctx: TenantScope, kind: ConventionKind) -> list[dict[str, Any]]:
    """Every organisation of the consortium in the role its kinds suggest; the first bailleur
    carries the project. Signatories default to the member allowed to sign."""
    organisations = await tenants.organisations(ctx)
    signers: dict[uuid.UUID, str] = {}
    for m in await tenants.members(ctx):
        if m["may_sign"] and m["is_active"]:
            signers.setdefault(m["organisation_id"], m["full_name"])
    parties: list[dict[str, Any]] = []
    lead_taken = False
    for org in organisations:
        kinds = set(org["kinds"])
        if OrganisationKind.LESSOR in kinds:
            role = PartyRole.LESSOR if lead_taken else PartyRole.LEAD_LESSOR
            lead_taken = True
        elif OrganisationKind.ASSOCIATION in kinds:
            role = PartyRole.ASSOCIATION
        elif OrganisationKind.STATE_SERVICE in kinds and kind == ConventionKind.STATE:
            role = PartyRole.STATE
        else:
            continue
        if kind == ConventionKind.STATE and role == PartyRole.ASSOCIATION:
            continue  # the State convention binds the carrier and the State
        parties.append(
            {
                "organisation": org["id"],
                "role": role,
                "signatory_name": signers.get(org["id"], ""),
                "position": len(parties),
            }
        )
    return parties


async def create(
    request: Request | None, ctx: TenantContext, user: CurrentUser, kind: str, title: str
) -> uuid.UUID:
    try:
        chosen = ConventionKind(kind)
    except ValueError as exc:
        raise FieldError("Choisissez le type de convention.", "kind") from exc
    if not title:
        raise FieldError("Donnez un titre à la convention.", "title")
    consortium = await tenants.platform_scope(ctx.consortium_id)
    project = consortium[1]["name"] if consortium else ""
    async with transaction():
        convention_id = await repository.insert_convention(
            ctx,
            {
                "kind": chosen,
                "origin": Origin.INITIAL,
                "reference": await _new_reference(ctx, chosen),
                "title": title,
                "project_name": project,
                "status": ConventionStatus.DRAFT,
                "duration_months": 24,
                "created_by": user.id,
            },
        )
        for party in await _default_parties(ctx, chosen):
            await repository.insert_party(ctx, {"convention": convention_id, **party})
        for position, (key, article_title, body) in enumerate(models.articles(chosen), 1):
            await _insert_article(
                ctx,
                user,
                convention_id,
                position,
                article_title,
                body,
                key=key,
                note="modèle par défaut",
            )
        for indicator_kind, label, unit in models.INDICATORS:
            await repository.insert_indicator(
                ctx,
                {"convention": convention_id, "kind": indicator_kind, "label": label, "unit": unit},
            )
        await audit.record_action(
            AuditTag.CONVENTION_CREATED,
            request,
            user,
            ctx,
            subject=subject(convention_id),
            summary=f"Convention créée à partir du modèle ({chosen.label.lower()})",
            actor_name=user.full_name,
        )
    return convention_id


async def _insert_article(
    scope: TenantScope,
    user: CurrentUser,
    convention_id: uuid.UUID,
    position: int,
    title: str,
    body: str,
    *,
    key: str = "",
    note: str = "",
    source: uuid.UUID | None = None,
) -> uuid.UUID:
    article_id = await repository.insert_article(
        scope,
        {
            "convention": convention_id,
            "key": key,
            "source": source,
            "position": position,
            "title": title,
            "body": body,
            "updated_by": user.id,
            "updated_by_name": user.full_name,
            "updated_at": now(),
        },
    )
    await repository.insert_revision(
        scope,
        {
            "convention": convention_id,
            "article": article_id,
            "revision": 1,
            "title": title,
            "body": body,
            "action": RevisionAction.CREATED,
            "note": note,
            "author_id": user.id,
            "author_name": user.full_name,
        },
    )
    return article_id


# Reading one convention ----------------------------------------------------------------------


def _join(names: list[str]) -> str:
    if not names:
        return ""
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " et " + names[-1]


def variables(
    row: Mapping[str, Any], parties: list[Row], summary: budget.Summary
) -> dict[str, str]:
    def named(*roles: PartyRole) -> str:
        return _join([p["organisation_name"] for p in parties if p["role"] in roles])

    def money(cents: int | None) -> str:
        return euros(cents) if cents is not None else "[montant à renseigner]"

    referents = [
        f"{p['referent_name']} pour {p['organisation_name']}"
        + (f" ({p['referent_email']})" if p["referent_email"] else "")
        for p in parties
        if p["referent_name"]
    ]
    start, end = row.get("starts_on"), lifecycle.ends_on(row)
    return {
        "titre": row["title"],
        "reference": row["reference"],
        "nom_projet": row["project_name"] or "[projet à nommer]",
        "territoire": row["territory"] or "[territoire à préciser]",
        "bailleur_porteur": named(PartyRole.LEAD_LESSOR) or "[bailleur porteur à désigner]",
        "bailleurs": named(PartyRole.LEAD_LESSOR, PartyRole.LESSOR) or "[bailleurs à désigner]",
        "associations": named(PartyRole.ASSOCIATION) or "[associations à désigner]",
        "service_etat": named(PartyRole.STATE) or "[service de l'État à désigner]",
        "cofinanceurs": named(PartyRole.COFUNDER) or "aucun cofinanceur partie",
        "referents": "; ".join(referents) or "[référents à désigner]",
        "date_debut": date_fr(start) if start else "[date à fixer]",
        "date_fin": date_fr(end) if end else "[date à fixer]",
        "duree_mois": str(row["duration_months"]),
        "nombre_menages": str(row["households_target"] or "[nombre à fixer]"),
        "nombre_logements": str(row["homes_target"] or "[nombre à fixer]"),
        "total_depenses": euros(summary.expenses_cents),
        "total_depenses_eligibles": euros(summary.eligible_cents),
        "total_ressources": euros(summary.resources_cents),
        "montant_subvention": euros(summary.state_fund_cents),
        "cout_diagnostic": money(row.get("unit_diagnostic_cents")),
        "cout_accompagnement": money(row.get("unit_accompaniment_cents")),
        "cout_gla": money(row.get("unit_gla_cents")),
    }


@dataclass
class Content:
    row: Row
    parties: list[Row]
    articles: list[Row]
    lines: list[Row]
    indicators: list[Row]
    annexes: list[Row]
    summary: budget.Summary
    variables: dict[str, str]
    extra: dict[str, Any] = field(default_factory=dict)


async def content(scope: TenantScope, row: Row) -> Content:
    convention_id = row["id"]
    parties = await repository.parties(scope, convention_id)
    lines = await repository.budget_lines(scope, convention_id)
    summary = budget.summarise(lines, row)
    return Content(
        row=row,
        parties=parties,
        articles=await repository.articles(scope, convention_id),
        lines=lines,
        indicators=await repository.indicators(scope, convention_id),
        annexes=await repository.annexes(scope, convention_id),
        summary=summary,
        variables=variables(row, parties, summary),
    )


def blockers(c: Content) -> list[str]:
    """Why this convention cannot be frozen for signature yet (empty: it can)."""
    found = []
    roles = [p["role"] for p in c.parties]
    if roles.count(PartyRole.LEAD_LESSOR) != 1:
        found.append("Désignez un (et un seul) bailleur porteur du projet parmi les parties.")
    if c.row["kind"] == ConventionKind.PARTNERSHIP and PartyRole.ASSOCIATION not in roles:
        found.append("Ajoutez au moins une association partie à la convention.")
    if c.row["kind"] == ConventionKind.STATE and PartyRole.STATE not in roles:
        found.append("Ajoutez le service de l'État signataire parmi les parties.")
    for p in c.parties:
        if not p["signatory_name"]:
            found.append(f"Indiquez le signataire de {p['organisation_name']}.")
    if c.row["starts_on"] is None:
        found.append("Indiquez la date de début de la convention.")
    if not c.row["households_target"]:
        found.append("Indiquez le nombre de ménages visé.")
    if not c.articles:
        found.append("La convention n'a aucun article.")
    for number, article in enumerate(c.articles, 1):
        unknown = text.variables_in(article["body"]) - set(c.variables)
        if unknown:
            names = ", ".join(f"{{{{ {n} }}}}" for n in sorted(unknown))
            found.append(f"Article {number} : variable inconnue {names}.")
    if not c.summary.balanced:
        found.append(c.summary.balance_message)
    pending = c.extra.get("pending_suggestions", 0)
    if pending:
        found.append(
            f"{pending} proposition{'s' if pending > 1 else ''} de modification en attente : "
            "acceptez-les ou rejetez-les."
        )
    return found


async def detail(opened: Opened) -> dict[str, Any]:
    ctx, row = opened.ctx, opened.row
    c = await content(ctx, row)
    comments = await repository.comments(ctx, opened.id)
    suggestions = await repository.suggestions(ctx, opened.id)
    pending = [s for s in suggestions if s["status"] == SuggestionStatus.PENDING]
    c.extra["pending_suggestions"] = len(pending)
    open_threads: dict[uuid.UUID, int] = {}
    for comment in comments:
        if comment["thread"] is None and comment["resolved_at"] is None:
            open_threads[comment["article"]] = open_threads.get(comment["article"], 0) + 1
    pending_by_article: dict[uuid.UUID, int] = {}
    for s in pending:
        pending_by_article[s["article"]] = pending_by_article.get(s["article"], 0) + 1
    parent = await repository.convention(ctx, row["parent"]) if row["parent"] is not None else None
    status = ConventionStatus(row["status"])
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
            if source == status and target != ConventionStatus.SIGNED
        ],
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
    }


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


# Structured data ---------------------------------------------------------------------------


async def update_info(
    request: Request | None,
    opened: Opened,
    user: CurrentUser,
    values: dict[str, Any],
    revision: int,
) -> None:
    _require_edit(opened)
    lifecycle.check_duration(
        values["duration_months"],
        opened.row["months_before"],
        renewal=opened.row["origin"] == Origin.RENEWAL,
    )
    changed = {k: v for k, v in values.items() if opened.row.get(k) != v}
    if not changed:
        return
    async with transaction():
        if not await repository.update_convention(
            opened.ctx,
            opened.id,
            {**changed, "updated_at": now()},
            revision=revision,
            status_in=list(lifecycle.EDITABLE),
        ):
            raise FieldError(
                "Ces informations ont été modifiées par quelqu'un d'autre pendant que vous les "
                "éditiez : rechargez la page pour voir leur version, puis refaites vos "
                "changements.",
                "title",
            )
        labels = snapshot.FIELD_LABELS
        await _record(
            request,
            opened,
            user,
            "Informations modifiées : " + ", ".join(labels.get(k, k).lower() for k in changed),
            before={k: _jsonable(opened.row.get(k)) for k in changed},
            after={k: _jsonable(v) for k, v in changed.items()},
        )


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


async def add_party(
    request: Request | None, opened: Opened, user: CurrentUser, values: dict[str, Any]
) -> None:
    _require_edit(opened)
    organisation = await tenants.organisation_in(opened.ctx, values["organisation"])
    if organisation is None:
        raise FieldError("Choisissez une organisation du consortium.", "organisation")
    if values["organisation"] in opened.parties:
        raise FieldError(
            f"{organisation['name']} est déjà partie à cette convention.", "organisation"
        )
    async with transaction():
        await repository.insert_party(
            opened.ctx, {"convention": opened.id, **values, "position": len(opened.parties)}
        )
        await _record(
            request, opened, user, f"Partie ajoutée : {organisation['name']}", party=values["role"]
        )


async def update_party(
    request: Request | None,
    opened: Opened,
    user: CurrentUser,
    party_id: uuid.UUID,
    values: dict[str, Any],
) -> None:
    _require_edit(opened)
    before = next(
        (p for p in await repository.parties(opened.ctx, opened.id) if p["id"] == party_id), None
    )
    if before is None:
        raise LookupError(party_id)
    async with transaction():
        await repository.update_party(opened.ctx, opened.id, party_id, values)
        changed = {k: v for k, v in values.items() if before.get(k) != v}
        if changed:
            await _record(
                request,
                opened,
                user,
                f"Partie modifiée : {before['organisation_name']}",
                before={k: before.get(k) for k in changed},
                after=changed,
            )


async def remove_party(
    request: Request | None, opened: Opened, user: CurrentUser, party_id: uuid.UUID
) -> None:
    _require_edit(opened)
    before = next(
        (p for p in await repository.parties(opened.ctx, opened.id) if p["id"] == party_id), None
    )
    if before is None:
        raise LookupError(party_id)
    async with transaction():
        await repository.delete_party(opened.ctx, opened.id, party_id)
        await _record(request, opened, user, f"Partie retirée : {before['organisation_name']}")


async def add_budget_line(
    request: Request | None, opened: Opened, user: CurrentUser, values: dict[str, Any]
) -> None:
    _require_edit(opened)
    async with transaction():
        await repository.insert_budget_line(opened.ctx, {"convention": opened.id, **values})
        side = "Dépense" if values["side"] == budget.EXPENSE else "Ressource"
        await _record(
            request,
            opened,
            user,
            f"{side} ajoutée au budget : {values['label']} ({euros(values['amount_cents'])})",
        )


async def remove_budget_line(
    request: Request | None, opened: Opened, user: CurrentUser, line_id: uuid.UUID
) -> None:
    _require_edit(opened)
    async with transaction():
        removed = await repository.delete_budget_line(opened.ctx, opened.id, line_id)
        if removed is None:
            raise LookupError(line_id)
        await _record(
            request,
            opened,
            user,
            f"Ligne retirée du budget : {removed['label']} ({euros(removed['amount_cents'])})",
        )


async def add_indicator(
    request: Request | None, opened: Opened, user: CurrentUser, values: dict[str, Any]
) -> None:
    _require_edit(opened)
    async with transaction():
        await repository.insert_indicator(opened.ctx, {"convention": opened.id, **values})
        await _record(request, opened, user, f"Indicateur ajouté : {values['label']}")


async def remove_indicator(
    request: Request | None, opened: Opened, user: CurrentUser, indicator_id: uuid.UUID
) -> None:
    _require_edit(opened)
    async with transaction():
        removed = await repository.delete_indicator(opened.ctx, opened.id, indicator_id)
        if removed is None:
            raise LookupError(indicator_id)
        await _record(request, opened, user, f"Indicateur retiré : {removed['label']}")


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
    request: Request | None, opened: Opened, user: CurrentUser, title: str, body: str
) -> uuid.UUID:
    _require_edit(opened)
    if not title:
        raise FieldError("Donnez un titre à l'article.", "title")
    async with transaction():
        position = len(await repository.articles(opened.ctx, opened.id)) + 1
        article_id = await _insert_article(opened.ctx, user, opened.id, position, title, body)
        await _record(request, opened, user, f"Article ajouté : {title}")
    return article_id


async def save_article(
    request: Request | None,
    opened: Opened,
    user: CurrentUser,
    article_id: uuid.UUID,
    title: str,
    body: str,
    expected_revision: int,
) -> int:
    """Saves over `expected_revision` only; raises `EditConflict` with the other person's
    version when someone saved in between. Returns the new revision."""
    _require_edit(opened)
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
                "updated_at": now(),
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
    request: Request | None,
    opened: Opened,
    user: CurrentUser,
    article_id: uuid.UUID,
    direction: str,
) -> None:
    _require_edit(opened)
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
        await _record(
            request,
            opened,
            user,
            f"Article « {articles[target]['title']} » déplacé en position {target + 1}",
        )


async def remove_article(
    request: Request | None, opened: Opened, user: CurrentUser, article_id: uuid.UUID
) -> None:
    _require_edit(opened)
    article = await repository.article(opened.ctx, opened.id, article_id)
    if article is None:
        raise LookupError(article_id)
    async with transaction():
        await repository.update_article(opened.ctx, opened.id, article_id, {"removed_at": now()})
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
        await _record(request, opened, user, f"Article supprimé : {article['title']}")


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
    request: Request | None,
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
    if not await repository.resolve_thread(opened.ctx, opened.id, thread_id, now(), user.full_name):
        raise LookupError(thread_id)


async def suggest(
    request: Request | None,
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
        await _record(
            request, opened, user, f"Modification proposée sur l'article « {article['title']} »"
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
    request: Request | None,
    opened: Opened,
    user: CurrentUser,
    suggestion_id: uuid.UUID,
    accept: bool,
    note: str,
) -> None:
    _require_edit(opened)
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
                "decided_at": now(),
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
                    "updated_at": now(),
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
        await _record(
            request,
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


# Annexes -------------------------------------------------------------------------------------


def _count_pages(path: Path) -> int:
    with path.open("rb") as handle:
        return len(PdfReader(handle).pages)


async def add_annex(
    request: Request | None, opened: Opened, user: CurrentUser, title: str, received: ReceivedFile
) -> None:
    """A PDF appended to the convention's PDF. Raises `UploadRefused`; nothing stays stored
    when refused."""
    try:
        _require_edit(opened)
        if not title:
            raise UploadRefused("Donnez un titre à l'annexe.", "title")
        file_type = await anyio.to_thread.run_sync(inspect.inspect, received)
        if file_type.code != "pdf":
            raise UploadRefused("Une annexe de convention doit être un fichier PDF.")
        pages = await anyio.to_thread.run_sync(_count_pages, received.path)
        try:
            await antivirus.scan(received.path)
        except antivirus.ScanRefused as exc:
            raise UploadRefused(exc.message) from exc
        key = f"conventions/{opened.ctx.consortium_id}/{opened.id}/annexes/{uuid.uuid4().hex}.pdf"
        storage = get_storage()
        try:
            await storage.put_file(key, received.path, "application/pdf")
        except StorageError as exc:
            raise UploadRefused(
                "Le stockage des documents ne répond pas : l'annexe n'a pas été enregistrée."
            ) from exc
        try:
            async with transaction():
                await repository.insert_annex(
                    opened.ctx,
                    {
                        "convention": opened.id,
                        "title": title,
                        "filename": inspect.clean_filename(received.filename, file_type),
                        "storage_key": key,
                        "sha256": received.sha256,
                        "size": received.size,
                        "pages": pages,
                        "uploaded_by_name": user.full_name,
                    },
                )
                await _record(request, opened, user, f"Annexe ajoutée : {title}")
        except Exception:
            await storage.delete(key)
            raise
    finally:
        received.discard()


async def remove_annex(
    request: Request | None, opened: Opened, user: CurrentUser, annex_id: uuid.UUID
) -> None:
    _require_edit(opened)
    annex = await repository.annex(opened.ctx, opened.id, annex_id)
    if annex is None or annex["removed_at"] is not None:
        raise LookupError(annex_id)
    async with transaction():
        await repository.remove_annex(opened.ctx, opened.id, annex_id, now())
        await _record(request, opened, user, f"Annexe retirée : {annex['title']}")


async def annex_chunks(opened: Opened, annex_id: uuid.UUID) -> tuple[Row, AsyncIterator[bytes]]:
    annex = await repository.annex(opened.ctx, opened.id, annex_id)
    if annex is None:
        raise LookupError(annex_id)
    return annex, get_storage().read(annex["storage_key"])


# Versions, lifecycle, PDF --------------------------------------------------------------------


async def _consortium_name(scope: TenantScope) -> str:
    found = await tenants.platform_scope(scope.consortium_id)
    return str(found[1]["name"]) if found else ""


async def current_snapshot(scope: TenantScope, row: Row) -> snapshot.Snapshot:
    c = await content(scope, row)
    return snapshot.build(
        consortium_name=await _consortium_name(scope),
        convention=row,
        parties=c.parties,
        articles=c.articles,
        budget=c.lines,
        indicators=c.indicators,
        annexes=c.annexes,
        variables=c.variables,
    )


async def _fetch(key: str, folder: Path) -> Path:
    path = folder / uuid.uuid4().hex
    with path.open("wb") as out:
        async for chunk in get_storage().read(key):
            out.write(chunk)
    return path


async def render_pdf(snap: snapshot.Snapshot, *, version_label: str, frozen: bool) -> bytes:
    tmp = get_settings().data_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=tmp) as folder:
        annexes = [await _fetch(x["storage_key"], Path(folder)) for x in snap["annexes"]]
        return await anyio.to_thread.run_sync(
            lambda: pdf.render(snap, annexes, version_label=version_label, frozen=frozen)
        )


async def _take_version(
    opened: Opened, user: CurrentUser, snap: snapshot.Snapshot, **values: Any
) -> int:
    number = await repository.next_version_number(opened.ctx, opened.id)
    await repository.insert_version(
        opened.ctx,
        {
            "convention": opened.id,
            "number": number,
            "snapshot": snap,
            "content_sha256": snapshot.digest(snap),
            "created_by": user.id,
            "created_by_name": user.full_name,
            **values,
        },
    )
    return number


async def change_status(
    request: Request | None, opened: Opened, user: CurrentUser, target: str
) -> str:
    """Moves the convention along its lifecycle; returns a French confirmation."""
    if not access.may_edit(opened.ctx.role):
        raise PermissionError(opened.id)
    try:
        goal = ConventionStatus(target)
    except ValueError as exc:
        raise FieldError("Action inconnue.", "status") from exc
    if goal == ConventionStatus.SIGNED:
        raise FieldError(
            "La signature s'enregistre par le circuit de signature, pas à la main.", "status"
        )
    lifecycle.check_transition(opened.row["status"], goal)
    if goal == ConventionStatus.READY:
        return await freeze(request, opened, user)
    async with transaction():
        if not await repository.update_convention(
            opened.ctx,
            opened.id,
            {"status": goal, "updated_at": now()},
            status_in=[opened.row["status"]],
        ):
            raise FieldError("Le statut vient de changer : rechargez la page.", "status")
        message = f"Convention passée « {DisplayStatus(goal.value).label.lower()} »"
        if goal == ConventionStatus.REVIEW and opened.status == ConventionStatus.DRAFT:
            snap = await current_snapshot(opened.ctx, {**opened.row, "status": goal})
            number = await _take_version(opened, user, snap)
            message = f"Convention soumise en relecture (version {number})"
        await _record(
            request,
            opened,
            user,
            message,
            AuditTag.CONVENTION_STATUS_CHANGED,
            before=opened.row["status"],
            after=goal.value,
        )
    return message + "."


async def freeze(request: Request | None, opened: Opened, user: CurrentUser) -> str:
    """Freezes the version for signature: snapshot, SHA-256, PDF rendered once and stored."""
    c = await content(opened.ctx, opened.row)
    c.extra["pending_suggestions"] = sum(
        1
        for s in await repository.suggestions(opened.ctx, opened.id)
        if s["status"] == SuggestionStatus.PENDING
    )
    problems = blockers(c)
    if problems:
        raise FieldError(
            "La convention ne peut pas encore être figée : " + " ".join(problems), "status"
        )
    snap = await current_snapshot(opened.ctx, opened.row)
    number = await repository.next_version_number(opened.ctx, opened.id)
    label = f"version {number} figée le {date_fr(today())}"
    document = await render_pdf(snap, version_label=label, frozen=True)
    pdf_sha = hashlib.sha256(document).hexdigest()
    key = f"conventions/{opened.ctx.consortium_id}/{opened.id}/v{number}-{pdf_sha[:16]}.pdf"
    storage = get_storage()
    tmp = get_settings().data_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=tmp, suffix=".pdf") as handle:
        handle.write(document)
        handle.flush()
        try:
            await storage.put_file(key, Path(handle.name), "application/pdf")
        except StorageError as exc:
            raise FieldError(
                "Le stockage des documents ne répond pas : la convention n'a pas été figée. "
                "Réessayez dans quelques minutes.",
                "status",
            ) from exc
    try:
        async with transaction():
            if not await repository.update_convention(
                opened.ctx,
                opened.id,
                {"status": ConventionStatus.READY, "updated_at": now()},
                status_in=[ConventionStatus.REVIEW],
            ):
                raise FieldError("Le statut vient de changer : rechargez la page.", "status")
            # Anything saved while the PDF was rendering would be missing from it.
            again = await current_snapshot(opened.ctx, opened.row)
            if snapshot.digest(again) != snapshot.digest(snap):
                raise FieldError(
                    "La convention a été modifiée pendant qu'elle était figée : rien n'a été "
                    "figé. Relisez les derniers changements puis recommencez.",
                    "status",
                )
            await repository.insert_version(
                opened.ctx,
                {
                    "convention": opened.id,
                    "number": number,
                    "frozen": True,
                    "snapshot": snap,
                    "content_sha256": snapshot.digest(snap),
                    "pdf_key": key,
                    "pdf_sha256": pdf_sha,
                    "pdf_size": len(document),
                    "created_by": user.id,
                    "created_by_name": user.full_name,
                },
            )
            await _record(
                request,
                opened,
                user,
                f"Version {number} figée pour signature (PDF SHA-256 {pdf_sha[:16]}…)",
                AuditTag.CONVENTION_FROZEN,
                version=number,
                pdf_sha256=pdf_sha,
                content_sha256=snapshot.digest(snap),
            )
    except BaseException:
        try:
            await storage.delete(key)
        except StorageError:
            log.warning("PDF orphelin %s", key)
        raise
    return f"Version {number} figée : elle est prête à signer."


async def mark_signed(
    scope: TenantScope, convention_id: uuid.UUID, version_id: uuid.UUID, at: dt.datetime
) -> None:
    """Called by the signature capability once every party signed the frozen version."""
    version = await repository.version_by_id(scope, version_id)
    if version is None or version["convention"] != convention_id or not version["frozen"]:
        raise LookupError(version_id)
    latest = await repository.versions(scope, convention_id)
    if latest[0]["id"] != version_id:
        raise FieldError("Seule la dernière version figée peut être signée.", "status")
    async with transaction():
        if not await repository.update_convention(
            scope,
            convention_id,
            {"status": ConventionStatus.SIGNED, "signed_version": version_id, "signed_at": at},
            status_in=[ConventionStatus.READY],
        ):
            raise FieldError(
                "Seule une convention prête à signer peut être enregistrée comme signée.", "status"
            )
        await audit.record(
            AuditTag.CONVENTION_SIGNED,
            consortium_id=scope.consortium_id,
            subject=subject(convention_id),
            summary=f"Convention signée (version {version['number']})",
            version=version["number"],
        )


async def _derive(
    request: Request | None,
    opened: Opened,
    user: CurrentUser,
    origin: Origin,
    months: int | None = None,
) -> uuid.UUID:
    """A new draft linked to the signed version: an avenant or a renewal."""
    if not access.may_edit(opened.ctx.role):
        raise PermissionError(opened.id)
    row = opened.row
    if row["status"] != ConventionStatus.SIGNED or row["signed_version"] is None:
        raise FieldError(
            "Seule une convention signée peut faire l'objet d'un avenant ou d'un renouvellement.",
            "origin",
        )
    for other in await repository.conventions(opened.ctx):
        if other["parent"] == opened.id and other["status"] != ConventionStatus.SIGNED:
            raise FieldError(
                f"{other['title']} ({other['reference']}) est déjà en préparation : "
                "terminez-le ou abandonnez-le d'abord.",
                "origin",
            )
    count = await repository.count_children(opened.ctx, opened.id, origin) + 1
    values: dict[str, Any] = {
        "kind": row["kind"],
        "origin": origin,
        "parent": opened.id,
        "parent_version": row["signed_version"],
        "status": ConventionStatus.DRAFT,
        "created_by": user.id,
        "project_name": row["project_name"],
        "territory": row["territory"],
        "households_target": row["households_target"],
        "homes_target": row["homes_target"],
        "unit_diagnostic_cents": row["unit_diagnostic_cents"],
        "unit_accompaniment_cents": row["unit_accompaniment_cents"],
        "unit_gla_cents": row["unit_gla_cents"],
    }
    if origin == Origin.AMENDMENT:
        values |= {
            "reference": f"{row['reference']}-A{count}",
            "title": f"Avenant n° {row['amendment_number'] + 1} – {row['title']}",
            "amendment_number": row["amendment_number"] + 1,
            "starts_on": row["starts_on"],
            "duration_months": row["duration_months"],
            "months_before": row["months_before"],
        }
        summary = f"Avenant n° {row['amendment_number'] + 1} ouvert"
    else:
        assert months is not None
        months_before = row["months_before"] + row["duration_months"]
        lifecycle.check_duration(months, months_before, renewal=True)
        end = lifecycle.ends_on(row)
        values |= {
            "reference": f"{row['reference']}-R{count}",
            "title": f"Renouvellement – {row['title']}",
            "starts_on": end + dt.timedelta(days=1) if end else None,
            "duration_months": months,
            "months_before": months_before,
        }
        summary = f"Renouvellement de {months} mois ouvert"
    async with transaction():
        new_id = await repository.insert_convention(opened.ctx, values)
        for p in await repository.parties(opened.ctx, opened.id):
            await repository.insert_party(
                opened.ctx,
                {
                    "convention": new_id,
                    **{
                        k: p[k]
                        for k in (
                            "organisation",
                            "role",
                            "signatory_name",
                            "signatory_title",
                            "referent_name",
                            "referent_email",
                            "referent_phone",
                            "position",
                        )
                    },
                },
            )
        for a in await repository.articles(opened.ctx, opened.id):
            await _insert_article(
                opened.ctx,
                user,
                new_id,
                a["position"],
                a["title"],
                a["body"],
                key=a["key"],
                note=f"repris de la version signée de {row['reference']}",
                source=a["id"],
            )
        for line in await repository.budget_lines(opened.ctx, opened.id):
            await repository.insert_budget_line(
                opened.ctx,
                {"convention": new_id, **{k: line[k] for k in snapshot.BUDGET_FIELDS}},
            )
        for i in await repository.indicators(opened.ctx, opened.id):
            await repository.insert_indicator(
                opened.ctx, {"convention": new_id, **{k: i[k] for k in snapshot.INDICATOR_FIELDS}}
            )
        await _record(request, opened, user, summary, reference=values["reference"])
        await audit.record_action(
            AuditTag.CONVENTION_CREATED,
            request,
            user,
            opened.ctx,
            subject=subject(new_id),
            summary=f"{summary} à partir de la version signée de {row['reference']}",
            actor_name=user.full_name,
        )
    return new_id


async def start_amendment(request: Request | None, opened: Opened, user: CurrentUser) -> uuid.UUID:
    return await _derive(request, opened, user, Origin.AMENDMENT)


async def start_renewal(
    request: Request | None, opened: Opened, user: CurrentUser, months: int
) -> uuid.UUID:
    return await _derive(request, opened, user, Origin.RENEWAL, months)


async def version_pdf(
    opened: Opened, number: int | None
) -> tuple[str, AsyncIterator[bytes] | bytes]:
    """A frozen version's stored bytes (never regenerated), or a rendering of a review version
    or of the current draft, marked as a working document."""
    ctx = opened.ctx
    if number is None:
        snap = await current_snapshot(ctx, opened.row)
        label = f"projet du {date_fr(today())}"
        return f"{opened.row['reference']}-projet.pdf", await render_pdf(
            snap, version_label=label, frozen=False
        )
    version = await repository.version(ctx, opened.id, number)
    if version is None:
        raise LookupError(number)
    filename = f"{opened.row['reference']}-v{number}.pdf"
    if version["frozen"]:
        return filename, get_storage().read(version["pdf_key"])
    label = f"version {number} de relecture"
    return filename, await render_pdf(version["snapshot"], version_label=label, frozen=False)


async def versions(opened: Opened) -> list[Row]:
    return await repository.versions(opened.ctx, opened.id)


async def comparison(
    opened: Opened, before: str, after: str
) -> tuple[snapshot.Comparison, str, str] | None:
    """Compares two of: a version number, "signee" (the signed version an avenant starts
    from), "courant" (the current text)."""

    async def load(which: str) -> tuple[snapshot.Snapshot, str] | None:
        if which == "courant":
            return await current_snapshot(opened.ctx, opened.row), "texte actuel"
        if which == "signee" and opened.row["parent_version"] is not None:
            found = await repository.version_by_id(opened.ctx, opened.row["parent_version"])
            if found is None:
                return None
            return found["snapshot"], "version signée d'origine"
        if which.isdigit():
            found = await repository.version(opened.ctx, opened.id, int(which))
            if found is None:
                return None
            return found["snapshot"], f"version {which}"
        return None

    a, b = await load(before), await load(after)
    if a is None or b is None:
        return None
    return snapshot.compare(a[0], b[0]), a[1], b[1]


async def history(opened: Opened) -> list[dict[str, Any]]:
    """Who changed what, when: convention events and article revisions, newest first."""
    events: list[dict[str, Any]] = [
        {
            "at": e["at"],
            "who": e["details"].get("actor_name") or e["actor_email"] or "le portail",
            "what": e["details"].get("summary", e["tag"]),
            "article": None,
        }
        for e in await audit.subject_events(opened.ctx, subject(opened.id))
    ]
    titles = {a["id"]: a["title"] for a in await repository.articles(opened.ctx, opened.id)}
    for rev in await repository.revisions(opened.ctx, opened.id):
        if rev["action"] == RevisionAction.CREATED and rev["note"]:
            continue  # articles of the model: one event says the convention was created
        what = f"Article « {rev['title']} » : {RevisionAction(rev['action']).label}"
        if rev["note"]:
            what += f" ({rev['note']})"
        events.append(
            {
                "at": rev["at"],
                "who": rev["author_name"],
                "what": what,
                "article": rev["article"] if rev["article"] in titles else None,
            }
        )
    events.sort(key=lambda e: e["at"], reverse=True)
    return events
