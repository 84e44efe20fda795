"""The households' forms: what was typed, checked, with a French message beside each field."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from typing import Any

from portal.core.forms import (
    FormResult,
    checkbox,
    date_field,
    is_digits,
    long_text,
    text,
)
from portal.households.enums import (
    AlertKind,
    ConsentState,
    ExitReason,
    HomeType,
    Occupancy,
    OrientationSource,
    Step,
)

DATE_HINT = "Indiquez la date au format jj/mm/aaaa, par exemple 15/01/2027."


def optional_uuid(result: FormResult, form: Mapping[str, Any], name: str) -> uuid.UUID | None:
    """A choice in a list of people or organisations; empty: none."""
    return _uuid(result, form, name, "Choisissez dans la liste.")


def _uuid(result: FormResult, form: Mapping[str, Any], name: str, message: str) -> uuid.UUID | None:
    raw = text(form, name, 40)
    if not raw:
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        result.errors[name] = message
        return None


def _choice(
    result: FormResult,
    form: Mapping[str, Any],
    name: str,
    choices: Any,
    message: str,
    *,
    required: bool = True,
) -> str | None:
    raw = text(form, name, 40)
    if not raw and not required:
        return None
    if raw not in {str(c) for c in choices}:
        result.errors[name] = message
        return None
    return raw


def read_day(
    result: FormResult, form: Mapping[str, Any], name: str, *, required: bool = True
) -> dt.date | None:
    raw = text(form, name, 20)
    result.values[f"{name}_raw"] = raw
    return date_field(result, name, raw, DATE_HINT, required=required)


def _count(result: FormResult, form: Mapping[str, Any], name: str, low: int, message: str) -> int:
    raw = text(form, name, 3) or str(low)
    if not is_digits(raw) or not low <= int(raw) <= 20:
        result.errors[name] = message
        return low
    return int(raw)


def identity_form(form: Mapping[str, Any], result: FormResult | None = None) -> FormResult:
    result = result or FormResult.of(form)
    last_name = text(form, "last_name", 100)
    if not last_name:
        result.errors["last_name"] = "Indiquez le nom de la personne de référence."
    email = text(form, "email", 254)
    if email and "@" not in email:
        result.errors["email"] = "Adresse e-mail non valide : par exemple nom@exemple.fr."
    result.values |= {
        "last_name": last_name,
        "first_name": text(form, "first_name", 100),
        "adults": _count(result, form, "adults", 1, "Nombre d'adultes : de 1 à 20."),
        "children": _count(result, form, "children", 0, "Nombre d'enfants : de 0 à 20."),
        "phone": text(form, "phone", 30),
        "email": email,
        "address": text(form, "address", 300),
        "home_type": _choice(
            result, form, "home_type", HomeType, "Choisissez le type de logement.", required=False
        ),
    }
    return result


def orientation_form(form: Mapping[str, Any]) -> FormResult:
    result = identity_form(form)
    result.values |= {
        "convention": _uuid(result, form, "convention", "Choisissez une convention."),
        "lessor": _uuid(result, form, "lessor", "Choisissez un bailleur dans la liste."),
        "source": _choice(
            result, form, "source", OrientationSource, "Indiquez qui oriente le ménage."
        ),
        "oriented_on": read_day(result, form, "oriented_on"),
        "motive": long_text(form, "motive", 2000),
        "occupancy": _choice(
            result, form, "occupancy", Occupancy, "Choisissez un statut.", required=False
        ),
    }
    if result.values["convention"] is None:
        result.errors.setdefault("convention", "Choisissez la convention du projet.")
    if not result.values["motive"]:
        result.errors["motive"] = "Indiquez le motif de l'orientation."
    return result


def move_form(form: Mapping[str, Any]) -> FormResult:
    result = FormResult.of(form)
    result.values = {
        "step": _choice(result, form, "step", Step, "Choisissez l'étape suivante."),
        "source": _choice(
            result, form, "source", OrientationSource, "Choisissez qui oriente.", required=False
        ),
        "exit_reason": _choice(
            result, form, "exit_reason", ExitReason, "Choisissez le motif.", required=False
        ),
        "reason": long_text(form, "reason", 2000),
    }
    result.values["on"] = read_day(result, form, "on")
    return result


def occupancy_form(form: Mapping[str, Any], *, renewal: bool = False) -> FormResult:
    result = FormResult.of(form)
    if not renewal:
        result.values["status"] = _choice(
            result, form, "status", Occupancy, "Choisissez le statut d'occupation."
        )
        result.values["since"] = read_day(result, form, "since")
    result.values |= {
        "decided_by": text(form, "decided_by", 200),
        "decision_reference": text(form, "decision_reference", 100),
    }
    result.values["decided_on"] = read_day(result, form, "decided_on")
    result.values["ends_on"] = read_day(result, form, "ends_on", required=renewal)
    return result


def note_form(form: Mapping[str, Any]) -> FormResult:
    result = FormResult.of(form)
    result.values = {"note": long_text(form, "note", 5000), "personal": checkbox(form, "personal")}
    return result


def procedure_form(form: Mapping[str, Any]) -> FormResult:
    result = FormResult.of(form)
    result.values["suspended_on"] = read_day(result, form, "suspended_on")
    result.values["suspended_until"] = read_day(result, form, "suspended_until")
    return result


def diagnostic_form(form: Mapping[str, Any], codes: list[str]) -> FormResult:
    """The grid's sections, each in its own text area (`section-<code>`)."""
    result = FormResult.of(form)
    result.values = {
        "texts": {
            c: long_text(form, f"section-{c}", 10_000) for c in codes if f"section-{c}" in form
        }
    }
    return result


def consent_form(form: Mapping[str, Any], recipients: list[str], sections: list[str]) -> FormResult:
    """`recipients`, `sections`: the ticked values (a multipart body is read elsewhere)."""
    result = FormResult.of(form)
    chosen = []
    for raw in recipients:
        try:
            chosen.append(uuid.UUID(raw))
        except ValueError:
            result.errors["recipients"] = "Choisissez les destinataires dans la liste."
    result.values = {
        "purpose": text(form, "purpose", 200),
        "sections": [s for s in sections if s],
        "recipients": chosen,
        "siao_copied": checkbox(form, "siao_copied"),
        "state": _choice(
            result,
            form,
            "state",
            (ConsentState.GIVEN, ConsentState.REFUSED),
            "Indiquez si le ménage a donné ou refusé son accord.",
        ),
    }
    if not result.values["purpose"]:
        result.errors["purpose"] = (
            "Indiquez la finalité : par exemple, transmettre la synthèse logement au bailleur."
        )
    result.values["collected_on"] = read_day(result, form, "collected_on")
    result.values["expires_on"] = read_day(result, form, "expires_on", required=False)
    return result


def alert_form(form: Mapping[str, Any]) -> FormResult:
    result = FormResult.of(form)
    result.values = {
        "kind": _choice(result, form, "kind", AlertKind, "Choisissez le motif de l'alerte."),
        "note": long_text(form, "note", 2000),
    }
    result.values["raised_on"] = read_day(result, form, "raised_on")
    return result


def settings_form(form: Mapping[str, Any]) -> FormResult:
    result = FormResult.of(form)
    raw = text(form, "alert_ack_days", 3)
    if not is_digits(raw) or not 1 <= int(raw) <= 60:
        result.errors["alert_ack_days"] = "Saisissez un nombre de jours entre 1 et 60."
    else:
        result.values["alert_ack_days"] = int(raw)
    result.values["alert_ack_days_raw"] = raw
    return result


def grid_form(form: Mapping[str, Any], current: list[Any]) -> FormResult:
    """The consortium's diagnostic grid: each section's title, optional or not, removed or
    not (never the housing synthesis), and a new private section."""
    from portal.households.diagnostic import SYNTHESIS, GridSection

    result = FormResult.of(form)
    sections = []
    for section in current:
        if section.code != SYNTHESIS and checkbox(form, f"remove-{section.code}"):
            continue
        title = text(form, f"title-{section.code}", 120)
        if not title:
            result.errors[f"title-{section.code}"] = "Donnez un titre à la section."
        sections.append(
            GridSection(section.code, title, checkbox(form, f"optional-{section.code}"))
        )
    new_title = text(form, "new_title", 120)
    if new_title:
        sections.append(GridSection(f"custom-{uuid.uuid4().hex[:8]}", new_title, True))
    result.values = {"sections": sections}
    return result


def filters(query: Mapping[str, Any]) -> dict[str, Any]:
    """The caseload's filters, from the query string (a bad value is ignored, not an error).
    The name is not read here: a search by name is a POST, so it never reaches a log."""
    found: dict[str, Any] = {}
    step = query.get("etape", "")
    if step in set(Step):
        found["step"] = step
    for key, name in (("referent", "referent"), ("convention", "convention")):
        try:
            found[name] = uuid.UUID(query.get(key, ""))
        except ValueError:
            pass
    page = query.get("page", "1")
    found["page"] = int(page) if is_digits(page) and len(page) < 6 else 1
    return found
