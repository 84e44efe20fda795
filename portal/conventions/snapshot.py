"""A convention as one JSON-able document: what a version stores, what the PDF is rendered from,
what two versions are compared on. Its SHA-256 is taken over canonical JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from portal.conventions import text
from portal.conventions.enums import ExpenseCategory, Funder, IndicatorKind, PartyRole
from portal.core.templating import euros

Snapshot = dict[str, Any]

CONVENTION_FIELDS = (
    "kind",
    "origin",
    "reference",
    "title",
    "project_name",
    "territory",
    "amendment_number",
    "starts_on",
    "duration_months",
    "households_target",
    "homes_target",
    "subletting_renewals",
    "unit_diagnostic_cents",
    "unit_accompaniment_cents",
    "unit_gla_cents",
)
PARTY_FIELDS = (
    "organisation",
    "organisation_name",
    "organisation_siret",
    "organisation_city",
    "role",
    "signatory_name",
    "signatory_title",
    "referent_name",
    "referent_email",
    "referent_phone",
)
BUDGET_FIELDS = (
    "side",
    "category",
    "label",
    "amount_cents",
    "eligible",
    "confirmed",
    "in_kind",
    "funding_line",
)
INDICATOR_FIELDS = ("kind", "label", "target", "unit", "description")
ANNEX_FIELDS = ("id", "title", "filename", "sha256", "pages", "storage_key")


def _plain(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "hex") and not isinstance(value, (int, float, str, bytes)):
        return str(value)
    return value


def _pick(row: Mapping[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    return {f: _plain(row.get(f)) for f in fields}


def build(
    *,
    consortium_name: str,
    convention: Mapping[str, Any],
    parties: Sequence[Mapping[str, Any]],
    articles: Sequence[Mapping[str, Any]],
    budget: Sequence[Mapping[str, Any]],
    indicators: Sequence[Mapping[str, Any]],
    annexes: Sequence[Mapping[str, Any]],
    variables: Mapping[str, str],
) -> Snapshot:
    return {
        "consortium_name": consortium_name,
        "convention": {"id": str(convention["id"]), **_pick(convention, CONVENTION_FIELDS)},
        "parties": [_pick(p, PARTY_FIELDS) for p in parties],
        "articles": [
            {
                "id": str(a["id"]),
                "source": str(a["source"]) if a.get("source") else None,
                "title": a["title"],
                "body": a["body"],
                "revision": a["revision"],
            }
            for a in articles
        ],
        "budget": [_pick(line, BUDGET_FIELDS) for line in budget],
        "indicators": [_pick(i, INDICATOR_FIELDS) for i in indicators],
        "annexes": [_pick(x, ANNEX_FIELDS) for x in annexes],
        "variables": dict(variables),
    }


def canonical(snapshot: Snapshot) -> bytes:
    return json.dumps(snapshot, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def digest(snapshot: Snapshot) -> str:
    return hashlib.sha256(canonical(snapshot)).hexdigest()


# Comparing two snapshots ---------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleChange:
    status: str  # "added" | "removed" | "changed" | "moved" | "same"
    number_before: int | None
    number_after: int | None
    title: str
    title_diff: Markup
    body_diff: Markup


@dataclass(frozen=True)
class LineChange:
    status: str  # "added" | "removed"
    text: str


@dataclass(frozen=True)
class Comparison:
    fields: list[tuple[str, str, str]]  # label, before, after
    articles: list[ArticleChange]
    lines: list[LineChange]  # parties, budget lines, indicators, annexes

    @property
    def empty(self) -> bool:
        return not self.fields and not self.lines and all(a.status == "same" for a in self.articles)


FIELD_LABELS = {
    "title": "Titre",
    "project_name": "Désignation du projet",
    "territory": "Territoire",
    "starts_on": "Date de début",
    "duration_months": "Durée (mois)",
    "households_target": "Nombre de ménages",
    "homes_target": "Nombre de logements",
    "subletting_renewals": "Renouvellements permis d'une sous-location",
    "unit_diagnostic_cents": "Coût d'un diagnostic par ménage",
    "unit_accompaniment_cents": "Coût de l'accompagnement par ménage et par an",
    "unit_gla_cents": "Coût de la GLA par logement et par an",
}


def _field_text(name: str, value: Any) -> str:
    if value is None or value == "":
        return "—"
    if name.endswith("_cents"):
        return euros(int(value))
    if name == "starts_on":
        year, month, day = str(value).split("-")
        return f"{day}/{month}/{year}"
    return str(value)


def _party_text(p: Mapping[str, Any]) -> str:
    signatory = p["signatory_name"] or "signataire à désigner"
    return f"Partie : {p['organisation_name']} ({PartyRole(p['role']).label}), {signatory}"


def _line_text(line: Mapping[str, Any]) -> str:
    if line["side"] == "expense":
        kind = ExpenseCategory(line["category"]).label
        extra = "" if line["eligible"] else ", non éligible"
        return f"Dépense : {line['label']} ({kind}{extra}) {euros(line['amount_cents'])}"
    funder = Funder(line["category"]).label
    state = "confirmée" if line["confirmed"] else "prévisionnelle"
    nature = "en nature" if line["in_kind"] else "en numéraire"
    return (
        f"Ressource : {line['label']} ({funder}, {state}, {nature}) {euros(line['amount_cents'])}"
    )


def _indicator_text(i: Mapping[str, Any]) -> str:
    target = f" : objectif {i['target']} {i['unit']}".rstrip() if i["target"] is not None else ""
    return f"Indicateur ({IndicatorKind(i['kind']).label}) : {i['label']}{target}"


def compare(before: Snapshot, after: Snapshot) -> Comparison:
    fields = []
    for name, label in FIELD_LABELS.items():
        a, b = before["convention"].get(name), after["convention"].get(name)
        if a != b:
            fields.append((label, _field_text(name, a), _field_text(name, b)))

    old = {a["id"]: (n, a) for n, a in enumerate(before["articles"], 1)}

    def lineage(article: dict[str, Any]) -> str:
        """The same article across an avenant or a renewal: matched through its source."""
        if article["id"] not in old and article.get("source") in old:
            return str(article["source"])
        return str(article["id"])

    new = {lineage(a): (n, a) for n, a in enumerate(after["articles"], 1)}
    changes: list[ArticleChange] = []
    for number, article in enumerate(after["articles"], 1):
        if lineage(article) not in old:
            changes.append(
                ArticleChange(
                    "added",
                    None,
                    number,
                    article["title"],
                    text.diff_html("", article["title"]),
                    text.diff_html("", article["body"]),
                )
            )
            continue
        was_number, was = old[lineage(article)]
        same_text = was["title"] == article["title"] and was["body"] == article["body"]
        status = "same" if same_text else "changed"
        if same_text and was_number != number:
            status = "moved"
        changes.append(
            ArticleChange(
                status,
                was_number,
                number,
                article["title"],
                text.diff_html(was["title"], article["title"]),
                text.diff_html(was["body"], article["body"]),
            )
        )
    for article_id, (number, article) in old.items():
        if article_id not in new:
            changes.append(
                ArticleChange(
                    "removed",
                    number,
                    None,
                    article["title"],
                    text.diff_html(article["title"], ""),
                    text.diff_html(article["body"], ""),
                )
            )

    def texts(snapshot: Snapshot) -> list[str]:
        return (
            [_party_text(p) for p in snapshot["parties"]]
            + [_line_text(line) for line in snapshot["budget"]]
            + [_indicator_text(i) for i in snapshot["indicators"]]
            + [f"Annexe : {x['title']} ({x['filename']})" for x in snapshot["annexes"]]
        )

    a_texts, b_texts = texts(before), texts(after)
    lines = [LineChange("removed", t) for t in a_texts if t not in b_texts]
    lines += [LineChange("added", t) for t in b_texts if t not in a_texts]
    return Comparison(fields, changes, lines)
