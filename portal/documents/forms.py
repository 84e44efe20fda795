from __future__ import annotations

import uuid

from starlette.datastructures import FormData

from portal.core.forms import FormResult, text
from portal.deadlines.forms import parse_date_fr
from portal.documents.enums import Recurrence


def request_form(form: FormData) -> FormResult:
    result = FormResult()
    title = text(form, "title")
    recurrence = text(form, "recurrence")
    try:
        organisation: uuid.UUID | None = uuid.UUID(text(form, "organisation", 40))
    except ValueError:
        organisation = None
        result.errors["organisation"] = "Choisissez l'organisation qui doit fournir la pièce."
    if len(title) < 3:
        result.errors["title"] = "Indiquez la pièce attendue (3 caractères au moins)."
    values: dict[str, object] = {
        "title": title,
        "description": text(form, "description", 2000),
        "organisation": organisation,
        "recurrence": recurrence,
        "due_on": None,
        "starts_on": None,
        "days_after_period": 30,
    }
    raw = {k: text(form, k, 20) for k in ("due_on", "starts_on", "days_after_period")}
    if recurrence == Recurrence.ONCE:
        values["due_on"] = parse_date_fr(raw["due_on"])
        if values["due_on"] is None:
            result.errors["due_on"] = "Indiquez la date limite au format jj/mm/aaaa."
    elif recurrence in (Recurrence.QUARTERLY, Recurrence.YEARLY):
        values["starts_on"] = parse_date_fr(raw["starts_on"])
        if values["starts_on"] is None:
            result.errors["starts_on"] = (
                "Indiquez le début de la première période au format jj/mm/aaaa."
            )
        if not raw["days_after_period"].isdigit() or not 0 <= int(raw["days_after_period"]) <= 365:
            result.errors["days_after_period"] = "Saisissez un nombre de jours entre 0 et 365."
        else:
            values["days_after_period"] = int(raw["days_after_period"])
    else:
        result.errors["recurrence"] = "Choisissez si la pièce est ponctuelle ou périodique."
    result.values = {**values, "raw": raw}
    return result
