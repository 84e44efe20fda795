"""Parsing the payments forms: French amounts and dates, one error per field (in French), the
typed values kept to show the form again."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.datastructures import FormData

from portal.conventions.enums import Funder
from portal.core.forms import (
    FieldError,
    FormResult,
    checkbox,
    date_field,
    is_digits,
    long_text,
    parse_date,
    text,
)
from portal.core.money import parse_cents
from portal.payments.enums import Basis, ExportFormat, LineStatus, ScheduleKind, Trigger
from portal.payments.exports import BY_KEY, COLUMNS, Chosen
from portal.payments.repository import LineFilter
from portal.payments.schedules import LineDraft, ScheduleDraft

MAX_LINES = 40
DATE_HINT = "Indiquez la date au format jj/mm/aaaa, par exemple 31/03/2027."


def parse_uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


def _amount(form: FormData, name: str, result: FormResult, *, required: bool) -> int | None:
    try:
        return parse_cents(text(form, name, 40), name, required=required)
    except FieldError as exc:
        result.errors[name] = exc.message
        return None


def schedule_form(form: FormData, kind: ScheduleKind, convention: uuid.UUID) -> FormResult:
    result = FormResult.of(form)
    raw: dict[str, Any] = {
        key: text(form, key, 300) for key in form if isinstance(form.get(key), str)
    }
    result.values = raw
    try:
        basis = Basis(text(form, "basis", 16))
    except ValueError:
        result.errors["basis"] = "Choisissez comment les montants sont connus."
        basis = Basis.FIXED
    funder = text(form, "funder", 24)
    if funder not in {f.value for f in Funder}:
        result.errors["funder"] = "Choisissez l'origine des fonds."
    beneficiary = parse_uuid(text(form, "beneficiary", 40))
    if beneficiary is None:
        result.errors["beneficiary"] = "Choisissez le bénéficiaire."
    payer = parse_uuid(text(form, "payer", 40))
    payer_name = text(form, "payer_name", 200)
    if payer is None and not payer_name:
        result.errors["payer"] = (
            "Choisissez le payeur parmi les organisations, ou écrivez son nom (par exemple "
            "CGLLS, Département du Rhône)."
        )
    label = text(form, "label", 200)
    if len(label) < 3:
        result.errors["label"] = "Donnez un intitulé à l'échéancier (3 caractères au moins)."
    total = _amount(form, "total", result, required=basis is Basis.FIXED)
    unit_cost = _amount(form, "unit_cost", result, required=basis is Basis.RESULTS)
    rate_raw = text(form, "rate", 5) or "100"
    rate = int(rate_raw) if is_digits(rate_raw) else 0
    if basis is Basis.EXPENSES and not 1 <= rate <= 100:
        result.errors["rate"] = "Le taux est un nombre entier de 1 à 100."
    lines: list[LineDraft] = []
    count = text(form, "rows", 3)
    for n in range(min(int(count) if is_digits(count) else 0, MAX_LINES)):
        line = _line(form, n, basis, result)
        if line is not None:
            lines.append(line)
    if not lines and not any(k.startswith("l-") for k in result.errors):
        result.errors["lines"] = "Ajoutez au moins une échéance."
    if result.ok:
        assert beneficiary is not None
        result.values["draft"] = ScheduleDraft(
            convention=convention,
            kind=kind,
            label=label,
            funder=funder,
            payer_organisation=payer,
            payer_name=payer_name,
            beneficiary=beneficiary,
            basis=basis,
            total_cents=total,
            unit_cost_cents=unit_cost,
            unit_label=text(form, "unit_label", 100) or "ménage accompagné",
            rate_percent=rate or 100,
            source_schedule=parse_uuid(text(form, "source", 40)),
            decision_reference=text(form, "decision_reference", 120),
            lines=lines,
        )
    return result


def _line(form: FormData, n: int, basis: Basis, result: FormResult) -> LineDraft | None:
    def get(field: str, length: int = 200) -> str:
        return text(form, f"l-{n}-{field}", length)

    label, amount_raw, day_raw = get("label"), get("amount", 40), get("expected_on", 20)
    if not (label or amount_raw or day_raw):
        return None  # an empty spare row
    prefix = f"l-{n}-"
    if not label:
        result.errors[prefix + "label"] = "Donnez un libellé à l'échéance."
    amount = None
    if basis is Basis.FIXED:
        amount = _amount(form, prefix + "amount", result, required=True)
    day = date_field(result, prefix + "expected_on", day_raw, DATE_HINT)
    try:
        trigger = Trigger(get("trigger", 16))
    except ValueError:
        result.errors[prefix + "trigger"] = "Choisissez ce qui rend l'échéance payable."
        trigger = Trigger.DATE
    if day is None or prefix + "label" in result.errors:
        return None
    return LineDraft(
        id=parse_uuid(get("id", 40)),
        label=label,
        amount_cents=amount,
        expected_on=day,
        trigger=trigger,
        trigger_document=parse_uuid(get("document", 40)),
        trigger_line=parse_uuid(get("source_line", 40)),
    )


def payment_form(form: FormData) -> FormResult:
    result = FormResult.of(form)
    result.values = {
        "amount": text(form, "amount", 40),
        "paid_on": text(form, "paid_on", 20),
        "reference": text(form, "reference", 120),
        "reason": long_text(form, "reason", 2000),
        "confirm": checkbox(form, "confirm"),
    }
    result.values["amount_cents"] = _amount(form, "amount", result, required=True)
    day = date_field(result, "paid_on", result.values["paid_on"], DATE_HINT)
    result.values["day"] = day
    return result


def declaration_form(form: FormData, basis: Basis) -> FormResult:
    result = FormResult.of(form)
    result.values = {"quantity": text(form, "quantity", 10), "justified": text(form, "justified")}
    if basis is Basis.RESULTS:
        raw = result.values["quantity"]
        if not is_digits(raw) or int(raw) > 100_000:
            result.errors["quantity"] = "Indiquez un nombre entier positif, par exemple 42."
        else:
            result.values["count"] = int(raw)
    else:
        result.values["cents"] = _amount(form, "justified", result, required=True)
    return result


def export_choice(form: FormData) -> tuple[list[Chosen], dict[str, str]]:
    """Columns ticked, in the order typed (then the catalogue's), with their headings."""
    errors: dict[str, str] = {}
    picked: list[tuple[int, int, Chosen]] = []
    for index, column in enumerate(COLUMNS):
        if not checkbox(form, f"col-{column.key}"):
            continue
        raw = text(form, f"pos-{column.key}", 4)
        if raw and not is_digits(raw):
            errors[f"pos-{column.key}"] = "La position est un nombre entier, par exemple 3."
            continue
        position = int(raw) if raw else 1000 + index
        label = text(form, f"label-{column.key}", 100) or column.label
        picked.append((position, index, Chosen(column.key, label)))
    return [c for _, _, c in sorted(picked, key=lambda p: (p[0], p[1]))], errors


def export_format(form: FormData) -> ExportFormat:
    try:
        return ExportFormat(text(form, "format", 8))
    except ValueError:
        return ExportFormat.CSV


def line_filter(params: Any) -> tuple[LineFilter, dict[str, str]]:
    """The listing's and export's filters, from a query string or a form."""
    values = {
        k: str(params.get(k, "") or "").strip()
        for k in ("convention", "kind", "status", "organisation", "from", "to")
    }
    statuses = tuple(s for s in [values["status"]] if s in {x.value for x in LineStatus})
    kind = values["kind"] if values["kind"] in {k.value for k in ScheduleKind} else None
    return (
        LineFilter(
            convention=parse_uuid(values["convention"]),
            kind=kind,
            statuses=statuses,
            organisation=parse_uuid(values["organisation"]),
            expected_from=parse_date(values["from"]) if values["from"] else None,
            expected_to=parse_date(values["to"]) if values["to"] else None,
        ),
        values,
    )


def chosen_of(model: dict[str, Any]) -> list[Chosen]:
    return [Chosen(c["key"], c["label"]) for c in model["columns"] if c["key"] in BY_KEY]
