from __future__ import annotations

import uuid

from starlette.datastructures import FormData

from portal.core.forms import FormResult, date_field, is_digits, text
from portal.documents.enums import Recurrence


def request_form(form: FormData) -> FormResult:
    result = FormResult.of(form)
    title = text(form, "title")
    recurrence = text(form, "recurrence")
    try:
        organisation: uuid.UUID | None = uuid.UUID(text(form, "organisation", 40))
    except ValueError:
        organisation = None
        result.errors["organisation"] = "Choisissez l'organisation qui doit fournir la pièce."
    if len(title) < 3:
        result.errors["title"] = "Indiquez la pièce attendue (3 caractères au moins)."
    convention: uuid.UUID | None = None
    if raw_convention := text(form, "convention", 40):  # optional
        try:
            convention = uuid.UUID(raw_convention)
        except ValueError:
            result.errors["convention"] = "Choisissez une convention dans la liste."
    values: dict[str, object] = {
        "title": title,
        "convention": convention,
        "description": text(form, "description", 2000),
        "organisation": organisation,
        "recurrence": recurrence,
        "due_on": None,
        "starts_on": None,
        "days_after_period": 30,
    }
    raw = {k: text(form, k, 20) for k in ("due_on", "starts_on", "days_after_period")}
    if recurrence == Recurrence.ONCE:
        values["due_on"] = date_field(
            result, "due_on", raw["due_on"], "Indiquez la date limite au format jj/mm/aaaa."
        )
    elif recurrence in (Recurrence.QUARTERLY, Recurrence.YEARLY):
        values["starts_on"] = date_field(
            result,
            "starts_on",
            raw["starts_on"],
            "Indiquez le début de la première période au format jj/mm/aaaa.",
        )
        if not is_digits(raw["days_after_period"]) or not 0 <= int(raw["days_after_period"]) <= 365:
            result.errors["days_after_period"] = "Saisissez un nombre de jours entre 0 et 365."
        else:
            values["days_after_period"] = int(raw["days_after_period"])
    else:
        result.errors["recurrence"] = "Choisissez si la pièce est ponctuelle ou périodique."
    result.values = {**values, "raw": raw}
    return result
