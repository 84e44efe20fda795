from __future__ import annotations

import re
import uuid

from starlette.datastructures import FormData

from portal.core.forms import FormResult, checkbox, date_field, is_digits, text
from portal.reminders.schedule import Policy


def deadline_form(form: FormData) -> FormResult:
    result = FormResult.of(form)
    title = text(form, "title")
    raw_org = text(form, "organisation", 40)
    organisation = None
    if raw_org:
        try:
            organisation = uuid.UUID(raw_org)
        except ValueError:
            result.errors["organisation"] = "Choisissez une organisation dans la liste."
    if len(title) < 3:
        result.errors["title"] = "Indiquez ce qui est attendu (3 caractères au moins)."
    due_on = date_field(
        result,
        "due_on",
        text(form, "due_on", 20),
        "Indiquez la date d'échéance au format jj/mm/aaaa, par exemple 31/03/2027.",
    )
    result.values = {
        "title": title,
        "description": text(form, "description", 2000),
        "due_on": due_on,
        "due_on_raw": text(form, "due_on", 20),
        "organisation": organisation,
    }
    return result


def _days(raw: str) -> list[int] | None:
    parts = [p for p in re.split(r"[,;\s]+", raw) if p]
    if not all(is_digits(p) for p in parts):
        return None
    return sorted({int(p) for p in parts}, reverse=True)


def policy_form(form: FormData) -> FormResult:
    result = FormResult.of(form)
    before = _days(text(form, "before_days", 100))
    numbers = {}
    for name, low, high in (
        ("overdue_first", 0, 60),
        ("overdue_every", 1, 60),
        ("overdue_max", 0, 10),
    ):
        raw = text(form, name, 10)
        if not is_digits(raw) or not low <= int(raw) <= high:
            result.errors[name] = f"Saisissez un nombre entier entre {low} et {high}."
        else:
            numbers[name] = int(raw)
    if before is None or any(d > 365 for d in before) or len(before) > 6:
        result.errors["before_days"] = (
            "Saisissez jusqu'à 6 nombres de jours séparés par des virgules, par exemple 15, 7, 1."
        )
    result.values = {"before_days_raw": text(form, "before_days", 100), **numbers}
    if result.ok:
        assert before is not None
        result.values["policy"] = Policy(
            before_days=tuple(before),
            overdue_first=numbers["overdue_first"],
            overdue_every=numbers["overdue_every"],
            overdue_max=numbers["overdue_max"],
            escalate=checkbox(form, "escalate"),
        )
    return result
