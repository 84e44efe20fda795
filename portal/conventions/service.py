"""Conventions: opening one (the visibility check), listing, drafting from the default models,
reading, and the structured data (information, parties, budget lines, indicators).

The rest lives beside it: `collaboration.py` (articles, comments, proposals), `annexes.py`,
`versions.py` (lifecycle moves, freezing and the PDF, avenants, renewals, comparisons,
history). The lifecycle's state table is in `lifecycle.py`; who may do what in `access.py`.

Every operation on one convention takes an `Opened` convention, which only `open_convention`
builds, after the visibility check: a route cannot reach a convention its member may not see.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from portal.audit import service as audit
from portal.audit.enums import AuditTag
from portal.auth.service import CurrentUser
from portal.conventions import access, budget, lifecycle, models, repository, snapshot, text
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
from portal.core.db import transaction
from portal.core.forms import FieldError, check_date
from portal.core.templating import PARIS, date_fr, euros
from portal.core.tenancy import TenantContext, TenantScope
from portal.core.visibility import EVERYTHING, Reach
from portal.signing import service as signing
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


async def reach_of(scope: TenantScope, role: str, organisation_id: uuid.UUID) -> Reach:
    """The conventions a member (of `role`, for `organisation_id`) sees: what every domain
    shows of a convention follows it (see `portal.core.visibility`)."""
    sight = access.party_sight(role, organisation_id)
    if sight.everything:
        return EVERYTHING
    return Reach(everything=False, conventions=await repository.reached(scope, sight))


async def reach(ctx: TenantContext) -> Reach:
    return await reach_of(ctx, ctx.role, ctx.organisation_id)


async def open_convention(ctx: TenantContext, convention_id: uuid.UUID) -> Opened | None:
    """The one visibility check: None (the caller answers 404) when it does not exist in this
    consortium or this member may not see it."""
    if not (await reach(ctx)).covers(convention_id):
        return None
    row = await repository.convention(ctx, convention_id)
    if row is None:
        return None
    parties = frozenset(p["organisation"] for p in await repository.parties(ctx, convention_id))
    return Opened(ctx, row, parties)


def require_edit(opened: Opened) -> None:
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


async def record(
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
    return [
        {
            **row,
            "kind_label": ConventionKind(row["kind"]).label,
            "display": display_status(row),
            "ends_on": lifecycle.ends_on(row),
        }
        for row in await repository.conventions(ctx, await reach(ctx))
    ]


async def _new_reference(scope: TenantScope, kind: ConventionKind) -> str:
    prefix = f"{'CP' if kind == ConventionKind.PARTNERSHIP else 'CE'}-{today().year}-"
    used = await repository.references_like(scope, prefix)
    numbers = [int(r[len(prefix) :]) for r in used if r[len(prefix) :].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


async def _default_parties(ctx: TenantScope, kind: ConventionKind) -> list[dict[str, Any]]:
    """Every organisation of the consortium in the role its kinds suggest; the first bailleur
    (by name) carries the project. Signatories default to the member allowed to sign."""
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
            {"organisation": org["id"], "role": role, "signatory_name": signers.get(org["id"], "")}
        )
    # Listed, and later signed, in the usual order: bailleurs, associations, then the State.
    order = list(PartyRole)
    parties.sort(key=lambda p: order.index(p["role"]))
    return [{**p, "position": position} for position, p in enumerate(parties)]


async def create(
    request: Request | None, ctx: TenantContext, user: CurrentUser, kind: str, title: str
) -> uuid.UUID:
    try:
        chosen = ConventionKind(kind)
    except ValueError as exc:
        raise FieldError("Choisissez le type de convention.", "kind") from exc
    if not title:
        raise FieldError("Donnez un titre à la convention.", "title")
    consortium = await tenants.scope_and_consortium(ctx.consortium_id)
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
            await insert_article(
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


async def insert_article(
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
) -> tuple[dict[str, str], frozenset[str]]:
    """The values of the article variables, and the names of those this convention has no
    value for yet: they show a placeholder (always from `models.MISSING`) and block freezing."""
    missing: set[str] = set()

    def need(name: str, value: str) -> str:
        if value:
            return value
        missing.add(name)
        return models.placeholder(name)

    def named(*roles: PartyRole) -> str:
        return _join([p["organisation_name"] for p in parties if p["role"] in roles])

    def money(cents: int | None) -> str:
        return euros(cents) if cents is not None else ""

    def count(value: int | None) -> str:
        return str(value) if value else ""

    referents = [
        f"{p['referent_name']} pour {p['organisation_name']}"
        + (f" ({p['referent_email']})" if p["referent_email"] else "")
        for p in parties
        if p["referent_name"]
    ]
    start, end = row.get("starts_on"), lifecycle.ends_on(row)
    lessors = (PartyRole.LEAD_LESSOR, PartyRole.LESSOR)
    values = {
        "titre": row["title"],
        "reference": row["reference"],
        "nom_projet": need("nom_projet", row["project_name"]),
        "territoire": need("territoire", row["territory"]),
        "bailleur_porteur": need("bailleur_porteur", named(PartyRole.LEAD_LESSOR)),
        "bailleurs": need("bailleurs", named(*lessors)),
        "associations": need("associations", named(PartyRole.ASSOCIATION)),
        "partenaires": need("partenaires", named(*lessors, PartyRole.ASSOCIATION)),
        "service_etat": need("service_etat", named(PartyRole.STATE)),
        "cofinanceurs": named(PartyRole.COFUNDER) or "aucun cofinanceur partie",
        "referents": need("referents", "; ".join(referents)),
        "date_debut": need("date_debut", date_fr(start) if start else ""),
        "date_fin": need("date_fin", date_fr(end) if end else ""),
        "duree_mois": str(row["duration_months"]),
        "nombre_menages": need("nombre_menages", count(row["households_target"])),
        "nombre_logements": need("nombre_logements", count(row["homes_target"])),
        "total_depenses": euros(summary.expenses_cents),
        "total_depenses_eligibles": euros(summary.eligible_cents),
        "total_ressources": euros(summary.resources_cents),
        "montant_subvention": euros(summary.state_fund_cents),
        "cout_diagnostic": need("cout_diagnostic", money(row.get("unit_diagnostic_cents"))),
        "cout_accompagnement": need(
            "cout_accompagnement", money(row.get("unit_accompaniment_cents"))
        ),
        "cout_gla": need("cout_gla", money(row.get("unit_gla_cents"))),
    }
    return values, frozenset(missing)


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
    missing: frozenset[str] = frozenset()  # variables without a value: placeholders
    extra: dict[str, Any] = field(default_factory=dict)


async def content(scope: TenantScope, row: Row) -> Content:
    convention_id = row["id"]
    parties = await repository.parties(scope, convention_id)
    lines = await repository.budget_lines(scope, convention_id)
    summary = budget.summarise(lines, row)
    values, missing = variables(row, parties, summary)
    return Content(
        row=row,
        parties=parties,
        articles=await repository.articles(scope, convention_id),
        lines=lines,
        indicators=await repository.indicators(scope, convention_id),
        annexes=await repository.annexes(scope, convention_id),
        summary=summary,
        variables=values,
        missing=missing,
    )


@dataclass(frozen=True)
class Blocker:
    """A reason not to freeze yet, with where to fix it: an anchor or a path under the
    convention's page ("#f-territory", "/budget")."""

    message: str
    link: str = ""
    link_label: str = "Compléter"


def _article_blockers(c: Content, number: int, article: Row) -> list[Blocker]:
    """The data an article still waits for: each variable it uses without a value, and any
    placeholder typed or pasted into its text."""
    where = f"Article {number} « {article['title']} »"
    edit = f"/articles/{article['id']}"
    found = []
    used = text.variables_in(article["body"])
    unknown = used - set(c.variables)
    if unknown:
        names = ", ".join(f"{{{{ {n} }}}}" for n in sorted(unknown))
        found.append(Blocker(f"{where} : variable inconnue {names}.", edit, "Modifier l'article"))
    fields: dict[str, list[str]] = {}
    for name in sorted(used & c.missing):
        if name == "associations" and c.row["kind"] == ConventionKind.STATE:
            # A State convention binds the carrier and the State: no association need sign it.
            found.append(
                Blocker(
                    f"{where} : aucune association n'est partie à cette convention ; "
                    "reformulez la phrase, par exemple avec {{ partenaires }} (bailleurs et "
                    "associations parties), ou ajoutez l'association parmi les parties.",
                    edit,
                    "Modifier l'article",
                )
            )
            continue
        missing = models.MISSING[name]
        if missing.data not in fields.setdefault(missing.field, []):
            fields[missing.field].append(missing.data)
    for anchor, data in fields.items():
        found.append(Blocker(f"{where} : indiquez {' et '.join(data)}.", f"#{anchor}"))
    typed = sorted(
        {m.text for m in models.MISSING.values() if m.text in article["body"] + article["title"]}
    )
    if typed:
        found.append(
            Blocker(
                f"{where} : remplacez {', '.join(f'« {t} »' for t in typed)} par le texte voulu.",
                edit,
                "Modifier l'article",
            )
        )
    return found


def blockers(c: Content) -> list[Blocker]:
    """Why this convention cannot be frozen for signature yet (empty: it can). A frozen
    version never carries a placeholder: each variable without a value is a blocker."""
    found = []
    parties = "#parties"
    roles = [p["role"] for p in c.parties]
    if roles.count(PartyRole.LEAD_LESSOR) != 1:
        found.append(
            Blocker(
                "Désignez un (et un seul) bailleur porteur du projet parmi les parties.", parties
            )
        )
    if c.row["kind"] == ConventionKind.PARTNERSHIP and PartyRole.ASSOCIATION not in roles:
        found.append(Blocker("Ajoutez au moins une association partie à la convention.", parties))
    if c.row["kind"] == ConventionKind.STATE and PartyRole.STATE not in roles:
        found.append(Blocker("Ajoutez le service de l'État signataire parmi les parties.", parties))
    for p in c.parties:
        if not p["signatory_name"]:
            found.append(Blocker(f"Indiquez le signataire de {p['organisation_name']}.", parties))
    if c.row["starts_on"] is None:
        found.append(Blocker("Indiquez la date de début de la convention.", "#f-starts_on"))
    if not c.row["households_target"]:
        found.append(Blocker("Indiquez le nombre de ménages visé.", "#f-households_target"))
    for other in c.extra.get("overlaps", []):
        found.append(Blocker(lifecycle.overlap_message(c.row, other), "#f-starts_on"))
    if not c.articles:
        found.append(Blocker("La convention n'a aucun article.", "#articles"))
    for number, article in enumerate(c.articles, 1):
        found += _article_blockers(c, number, article)
    if not c.summary.balanced:
        found.append(Blocker(c.summary.balance_message, "/budget", "Voir le budget"))
    pending = c.extra.get("pending_suggestions", 0)
    if pending:
        found.append(
            Blocker(
                f"{pending} proposition{'s' if pending > 1 else ''} de modification en attente : "
                "acceptez-les ou rejetez-les.",
                "#articles",
                "Voir les articles",
            )
        )
    return found


async def chain_overlaps(scope: TenantScope, row: Row) -> list[Mapping[str, Any]]:
    """The conventions of other periods of this one's chain that its dates overlap."""
    return lifecycle.overlapping(row, await repository.conventions(scope))


async def hold_frozen(scope: TenantScope, convention_id: uuid.UUID) -> None:
    """In the caller's transaction, holds the convention's row while it stays frozen for
    signature: reopening review (which updates that row, then looks for a request) waits, and
    sees the request once it is committed. `FieldError` when it is no longer frozen."""
    if not await repository.update_convention(
        scope,
        convention_id,
        {"status": ConventionStatus.READY},
        status_in=[ConventionStatus.READY],
    ):
        raise FieldError(
            "La relecture de cette convention vient d'être rouverte : elle n'est plus figée "
            "pour signature. Rechargez la page.",
            "request",
        )


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


# Structured data ---------------------------------------------------------------------------


async def update_info(
    request: Request | None,
    opened: Opened,
    user: CurrentUser,
    values: dict[str, Any],
    revision: int,
) -> None:
    require_edit(opened)
    check_date(values.get("starts_on"), "starts_on")
    lifecycle.check_duration(
        values["duration_months"],
        opened.row["months_before"],
        renewal=opened.row["origin"] == Origin.RENEWAL,
    )
    changed = {k: v for k, v in values.items() if opened.row.get(k) != v}
    if not changed:
        return
    if changed.keys() & {"starts_on", "duration_months"}:
        overlaps = await chain_overlaps(opened.ctx, {**opened.row, **values})
        if overlaps:
            raise FieldError(
                lifecycle.overlap_message({**opened.row, **values}, overlaps[0]), "starts_on"
            )
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
        await record(
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
    require_edit(opened)
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
        await record(
            request, opened, user, f"Partie ajoutée : {organisation['name']}", party=values["role"]
        )


async def update_party(
    request: Request | None,
    opened: Opened,
    user: CurrentUser,
    party_id: uuid.UUID,
    values: dict[str, Any],
) -> None:
    require_edit(opened)
    before = next(
        (p for p in await repository.parties(opened.ctx, opened.id) if p["id"] == party_id), None
    )
    if before is None:
        raise LookupError(party_id)
    async with transaction():
        await repository.update_party(opened.ctx, opened.id, party_id, values)
        changed = {k: v for k, v in values.items() if before.get(k) != v}
        if changed:
            await record(
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
    require_edit(opened)
    before = next(
        (p for p in await repository.parties(opened.ctx, opened.id) if p["id"] == party_id), None
    )
    if before is None:
        raise LookupError(party_id)
    async with transaction():
        await repository.delete_party(opened.ctx, opened.id, party_id)
        await record(request, opened, user, f"Partie retirée : {before['organisation_name']}")


async def add_budget_line(
    request: Request | None, opened: Opened, user: CurrentUser, values: dict[str, Any]
) -> None:
    require_edit(opened)
    async with transaction():
        await repository.insert_budget_line(opened.ctx, {"convention": opened.id, **values})
        side = "Dépense" if values["side"] == budget.EXPENSE else "Ressource"
        await record(
            request,
            opened,
            user,
            f"{side} ajoutée au budget : {values['label']} ({euros(values['amount_cents'])})",
        )


async def remove_budget_line(
    request: Request | None, opened: Opened, user: CurrentUser, line_id: uuid.UUID
) -> None:
    require_edit(opened)
    async with transaction():
        removed = await repository.delete_budget_line(opened.ctx, opened.id, line_id)
        if removed is None:
            raise LookupError(line_id)
        await record(
            request,
            opened,
            user,
            f"Ligne retirée du budget : {removed['label']} ({euros(removed['amount_cents'])})",
        )


async def add_indicator(
    request: Request | None, opened: Opened, user: CurrentUser, values: dict[str, Any]
) -> None:
    require_edit(opened)
    async with transaction():
        await repository.insert_indicator(opened.ctx, {"convention": opened.id, **values})
        await record(request, opened, user, f"Indicateur ajouté : {values['label']}")


async def remove_indicator(
    request: Request | None, opened: Opened, user: CurrentUser, indicator_id: uuid.UUID
) -> None:
    require_edit(opened)
    async with transaction():
        removed = await repository.delete_indicator(opened.ctx, opened.id, indicator_id)
        if removed is None:
            raise LookupError(indicator_id)
        await record(request, opened, user, f"Indicateur retiré : {removed['label']}")


# For the domains that follow a signed convention (payments) ------------------------------


async def signed_conventions(scope: TenantScope) -> list[Row]:
    """The consortium's signed conventions (money follows signed ones only), newest first."""
    rows = [
        {**row, "kind_label": ConventionKind(row["kind"]).label, "ends_on": lifecycle.ends_on(row)}
        for row in await repository.conventions(scope)
        if row["status"] == ConventionStatus.SIGNED
    ]
    return sorted(rows, key=lambda r: r["reference"], reverse=True)


async def convention_of(scope: TenantScope, convention_id: uuid.UUID) -> Row | None:
    return await repository.convention(scope, convention_id)


async def parties_of(scope: TenantScope, convention_id: uuid.UUID) -> list[Row]:
    return await repository.parties(scope, convention_id)


async def budget_summary(scope: TenantScope, convention_id: uuid.UUID) -> budget.Summary | None:
    row = await repository.convention(scope, convention_id)
    if row is None:
        return None
    return budget.summarise(await repository.budget_lines(scope, convention_id), row)
