"""Reading the conventions' forms: values typed the French way, errors next to their fields."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.datastructures import FormData

from portal.conventions.budget import EXPENSE, RESOURCE
from portal.conventions.enums import ExpenseCategory, Funder, IndicatorKind, PartyRole
from portal.core.forms import (
    FieldError,
    FormResult,
    checkbox,
    date_field,
    is_digits,
    long_text,
    text,
)
from portal.core.money import parse_cents

ARTICLE_MAX = 20_000


def _count(result: FormResult, form: FormData, name: str, label: str) -> int | None:
    raw = text(form, name, 10).replace(" ", "")
    if not raw:
        return None
    if not is_digits(raw) or not 0 < int(raw) <= 100_000:
        result.errors[name] = f"Indiquez {label} par un nombre entier positif."
        return None
    return int(raw)


def _cents(result: FormResult, form: FormData, name: str, required: bool = False) -> int | None:
    try:
        return parse_cents(text(form, name, 30), name, required=required)
    except FieldError as exc:
        result.errors[name] = exc.message
        return None


def info_form(form: FormData) -> FormResult:
    result = FormResult.of(form)
    title = text(form, "title")
    if len(title) < 3:
        result.errors["title"] = "Donnez un titre à la convention (3 caractères au moins)."
    starts_on = date_field(
        result,
        "starts_on",
        text(form, "starts_on", 20),
        "Indiquez la date de début au format jj/mm/aaaa.",
        required=False,
    )
    duration = text(form, "duration_months", 4)
    if duration not in {"12", "24"}:
        result.errors["duration_months"] = "La durée est de 12 ou 24 mois."
    result.values = {
        "title": title,
        "project_name": text(form, "project_name"),
        "territory": text(form, "territory"),
        "starts_on": starts_on,
        "duration_months": int(duration) if is_digits(duration) else 24,
        "households_target": _count(result, form, "households_target", "le nombre de ménages"),
        "homes_target": _count(result, form, "homes_target", "le nombre de logements"),
        "subletting_renewals": _renewals(result, form),
        "unit_diagnostic_cents": _cents(result, form, "unit_diagnostic_cents"),
        "unit_accompaniment_cents": _cents(result, form, "unit_accompaniment_cents"),
        "unit_gla_cents": _cents(result, form, "unit_gla_cents"),
    }
    return result


def _renewals(result: FormResult, form: FormData) -> int:
    raw = text(form, "subletting_renewals", 4) or "1"
    if not is_digits(raw) or int(raw) > 5:
        result.errors["subletting_renewals"] = (
            "Indiquez combien de renouvellements d'une sous-location sont permis, de 0 à 5."
        )
        return 1
    return int(raw)


def revision(form: FormData) -> int:
    raw = text(form, "revision", 10)
    return int(raw) if is_digits(raw) else 0


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def party_form(form: FormData, with_organisation: bool) -> FormResult:
    result = FormResult.of(form)
    values: dict[str, Any] = {
        "role": text(form, "role", 20),
        "signatory_name": text(form, "signatory_name"),
        "signatory_title": text(form, "signatory_title"),
        "referent_name": text(form, "referent_name"),
        "referent_email": text(form, "referent_email", 254),
        "referent_phone": text(form, "referent_phone", 30),
    }
    if values["role"] not in set(PartyRole):
        result.errors["role"] = "Choisissez le rôle de cette partie."
    if values["referent_email"] and "@" not in values["referent_email"]:
        result.errors["referent_email"] = "Adresse e-mail du référent non valide."
    if with_organisation:
        values["organisation"] = _uuid(text(form, "organisation", 40))
        if values["organisation"] is None:
            result.errors["organisation"] = "Choisissez une organisation du consortium."
    result.values = values
    return result


def budget_line_form(form: FormData) -> FormResult:
    result = FormResult.of(form)
    side = text(form, "side", 10)
    category = text(form, "category", 30)
    label = text(form, "label")
    if side == EXPENSE:
        if category not in set(ExpenseCategory):
            result.errors["category"] = "Choisissez la catégorie de la dépense."
        # "auto": eligible exactly when the fund finances the category.
        choice = text(form, "eligible", 10) or "auto"
        if choice == "auto":
            eligible = category in set(ExpenseCategory) and ExpenseCategory(category).fundable
        else:
            eligible = choice == "yes"
    elif side == RESOURCE:
        if category not in set(Funder):
            result.errors["category"] = "Choisissez le financeur."
        eligible = True
    else:
        result.errors["side"] = "Indiquez s'il s'agit d'une dépense ou d'une ressource."
        eligible = True
    if not label:
        result.errors["label"] = "Décrivez la ligne (par exemple « Diagnostics sociaux »)."
    amount = _cents(result, form, "amount", required=True)
    if amount == 0 and "amount" not in result.errors:
        result.errors["amount"] = "Le montant doit être supérieur à zéro."
    result.values = {
        "side": side,
        "category": category,
        "label": label,
        "amount_cents": amount or 0,
        "eligible": eligible,
        "confirmed": checkbox(form, "confirmed"),
        "in_kind": checkbox(form, "in_kind"),
        "funding_line": text(form, "funding_line"),
    }
    return result


def indicator_form(form: FormData) -> FormResult:
    result = FormResult.of(form)
    kind = text(form, "kind", 20)
    if kind not in set(IndicatorKind):
        result.errors["kind"] = "Choisissez le type d'indicateur."
    label = text(form, "label")
    if not label:
        result.errors["label"] = "Nommez l'indicateur."
    raw_target = text(form, "target", 10).replace(" ", "")
    target = None
    if raw_target:
        if is_digits(raw_target):
            target = int(raw_target)
        else:
            result.errors["target"] = (
                "L'objectif est un nombre entier (laissez vide s'il est qualitatif)."
            )
    result.values = {
        "kind": kind,
        "label": label,
        "target": target,
        "unit": text(form, "unit", 60),
        "description": text(form, "description", 2000),
    }
    return result


def article_form(form: FormData) -> FormResult:
    result = FormResult.of(form)
    title = text(form, "title")
    body = long_text(form, "body")
    if not title:
        result.errors["title"] = "Donnez un titre à l'article."
    if len(body) > ARTICLE_MAX:
        result.errors["body"] = f"L'article dépasse {ARTICLE_MAX} caractères : découpez-le."
    result.values = {"title": title, "body": body}
    return result
