"""What a convention says: the values of its article variables, its whole content, and what
blocks freezing it for signature."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from portal.conventions import budget, lifecycle, models, repository, text
from portal.conventions.enums import ConventionKind, PartyRole
from portal.conventions.service import Row
from portal.core.templating import date_fr, euros
from portal.core.tenancy import TenantScope


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
