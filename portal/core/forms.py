"""Small helpers for server-side form validation: values and errors keyed by field name."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

T = TypeVar("T")


class FieldError(Exception):
    """A service refused the input: a French message, shown next to `field` when given."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass
class FormResult:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors

    @classmethod
    def of(cls, form: Mapping[str, Any]) -> FormResult:
        """A result whose errors start with what the form layer refused in `form`, and keep
        receiving what its helpers refuse later (see `Form`)."""
        if isinstance(form, Form):
            form.linked = True
            return cls(errors=form.problems)
        return cls()


async def submit(
    result: FormResult, action: Callable[[], Awaitable[T]], default_field: str
) -> T | None:
    """Runs `action` when the form is valid; a `FieldError` it raises becomes a field error.
    Returns the action's result, or None when the form must be shown again."""
    if not result.ok:
        return None
    try:
        return await action()
    except FieldError as exc:
        result.errors[exc.field or default_field] = exc.message
        return None


# Reading what was typed ---------------------------------------------------------------------
# Every POST route reads its body with `read_form` (a meta-test forbids `request.form()`
# elsewhere), so what no field may hold is refused here once: on PostgreSQL a NUL byte in a
# text column is a 500, control characters corrupt exports and e-mails, and an unbounded value
# fills the database. Single-line helpers also refuse line breaks (a name must never become a
# second e-mail header line) and every helper refuses, rather than truncates, a value too long.

NAME_MAX = 200
LONG_TEXT_MAX = 20_000  # the longest field of any form (an article); nothing longer is read
_FIELD_NAME_MAX = 200
# C0 and C1 control characters, DEL, and the invisible separators that split lines; tab,
# line feed and carriage return are what a text area legitimately sends.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_LINE_BREAK = re.compile(r"[\r\n]")

CONTROL_MESSAGE = (
    "Ce champ contient un caractère invisible non autorisé (caractère de contrôle) : "
    "retapez la valeur sans copier-coller."
)
LINE_BREAK_MESSAGE = "Ce champ tient sur une seule ligne : retirez les retours à la ligne."


def too_long_message(max_length: int) -> str:
    return f"Ce champ est limité à {max_length:,} caractères.".replace(",", "\u202f")


class _Problems(dict[str, str]):
    """A result's errors that start with the form layer's refusals: a form's own check that
    comes later (« 3 caractères au moins ») never hides the reason the value was refused."""

    def __init__(self, refused: dict[str, str]) -> None:
        super().__init__(refused)
        self.layer = set(refused)

    def refuse(self, name: str, message: str) -> None:
        if name not in self.layer:
            super().__setitem__(name, message)
            self.layer.add(name)

    def __setitem__(self, name: str, message: str) -> None:
        if name not in self.layer:
            super().__setitem__(name, message)


class Form(FormData):
    """The submitted fields, checked by `read_form`; `problems` maps a field to why it was
    refused, and a refused value reads as "".

    A form whose result was made with `FormResult.of(form)` is *linked*: the helpers add their
    refusals to that result's errors, shown next to the fields. An unlinked form (a route that
    reads its fields itself) fails closed: reading a refused field raises `FieldError` for it,
    which the route shows next to the field or, uncaught, the 400 page shows."""

    problems: _Problems
    linked: bool

    def refuse(self, name: str, message: str) -> None:
        if not self.linked:
            raise FieldError(message, name)
        self.problems.refuse(name, message)

    def refusal(self, field: str | None = None) -> FieldError | None:
        """The first refusal of the form layer (shown beside `field` when given), for routes
        whose result also holds the form's own checks."""
        for name, message in self.problems.items():
            if name in self.problems.layer:
                return FieldError(message, field or name)
        return None

    def check(self, name: str) -> None:
        if name in self.problems and not self.linked:
            raise FieldError(self.problems[name], name)

    def get(self, key: Any, default: Any = None) -> Any:
        self.check(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> UploadFile | str:
        self.check(key)
        return super().__getitem__(key)

    def getlist(self, key: Any) -> list[UploadFile | str]:
        self.check(key)
        return super().getlist(key)


def check_value(value: str, max_length: int = LONG_TEXT_MAX) -> tuple[str, str | None]:
    """`value` with CRLF made LF, and why no field may hold it (None when it may)."""
    value = value.replace("\r\n", "\n")
    if _CONTROL.search(value):
        return "", CONTROL_MESSAGE
    if len(value) > max_length:
        return "", too_long_message(max_length)
    return value, None


def checked_form(
    items: Iterable[tuple[str, UploadFile | str]], longer: Mapping[str, int] | None = None
) -> Form:
    """Fields as `read_form` gives them; for bodies parsed elsewhere (streamed uploads).
    `longer`: the few fields that hold more than any text (a drawn mark as a data URL)."""
    kept: list[tuple[str, UploadFile | str]] = []
    problems: dict[str, str] = {}
    for key, value in items:
        if _CONTROL.search(key) or len(key) > _FIELD_NAME_MAX:
            continue  # no form of ours has such a field: it was forged, ignore it
        if isinstance(value, str):
            value, problem = check_value(value, (longer or {}).get(key, LONG_TEXT_MAX))
            if problem:
                problems.setdefault(key, problem)
        kept.append((key, value))
    form = Form(kept)
    form.problems = _Problems(problems)
    form.linked = False
    return form


async def read_form(
    request: Request, longer: Mapping[str, int] | None = None, **limits: int
) -> Form:
    """The request's form, checked (see `Form`). `limits` go to Starlette (`max_part_size`);
    `longer` names the fields allowed past `LONG_TEXT_MAX`, with their own maximum."""
    raw = await request.form(**limits)  # form-layer-ok: the one place that reads a body
    return checked_form(raw.multi_items(), longer)


def _raw(form: Mapping[str, Any], name: str) -> str:
    value = form.get(name, "")
    return value if isinstance(value, str) else ""


def _refuse(form: Mapping[str, Any], name: str, message: str) -> None:
    if isinstance(form, Form):
        form.refuse(name, message)


def text(form: Mapping[str, Any], name: str, max_length: int = NAME_MAX) -> str:
    """One line of text, stripped. Line breaks and values longer than `max_length` are
    refused (what is returned then only serves to show the form again)."""
    value = _raw(form, name).replace("\t", " ").strip()
    if _LINE_BREAK.search(value):
        _refuse(form, name, LINE_BREAK_MESSAGE)
        value = " ".join(value.split())
    if len(value) > max_length:
        _refuse(form, name, too_long_message(max_length))
        value = value[:max_length]
    return value


def long_text(form: Mapping[str, Any], name: str, max_length: int = LONG_TEXT_MAX) -> str:
    """Text over several lines (a text area): line breaks kept as LF, stripped, refused when
    longer than `max_length`."""
    value = _raw(form, name).replace("\r\n", "\n").strip()
    if len(value) > max_length:
        _refuse(form, name, too_long_message(max_length))
        value = value[:max_length]
    return value


def redisplay(form: Mapping[str, Any]) -> dict[str, str]:
    """What was typed, to show the form again: no check, no error (refused values read "")."""
    items = form.multi_items() if isinstance(form, FormData) else form.items()
    return {k: v for k, v in items if isinstance(v, str)}


def is_digits(raw: str) -> bool:
    """ASCII digits only: `str.isdigit` and `int` also take « １２３ » and « ² »."""
    return raw.isascii() and raw.isdigit()


def checkbox(form: Mapping[str, Any], name: str) -> bool:
    return form.get(name) in {"on", "1", "true", "oui"}


# Dates ----------------------------------------------------------------------------------------
# One plausible range for every date a person types, checked by the forms and again by the
# services: a year typed wrong (9998, 1026) must not reach date arithmetic (past year 9999 it
# raises) nor the periodic work (a quarterly request from 1026 means 4,004 items).
DATE_MIN = dt.date(2000, 1, 1)
DATE_MAX = dt.date(2100, 12, 31)
DATE_RANGE_MESSAGE = (
    f"Indiquez une date comprise entre le {DATE_MIN:%d/%m/%Y} et le {DATE_MAX:%d/%m/%Y}."
)
_DATE_PATTERNS = ("%d/%m/%Y", "%Y-%m-%d")  # as people type it, as a date field sends it


def read_date(raw: str) -> dt.date | None:
    """The date written, whatever its year: for a service that checks the range itself
    (`check_date`), with its own message."""
    if not raw.isascii():
        return None  # strptime reads « １５/０６/２０３０ » too: ASCII digits only
    for pattern in _DATE_PATTERNS:
        try:
            return dt.datetime.strptime(raw.strip(), pattern).date()
        except ValueError:
            continue
    return None


def plausible_date(day: dt.date) -> bool:
    return DATE_MIN <= day <= DATE_MAX


def parse_date(raw: str) -> dt.date | None:
    """`22/11/2026` or `2026-11-22`, within the plausible range; None otherwise (for filters,
    where a date that cannot be is simply ignored)."""
    day = read_date(raw)
    return day if day is not None and plausible_date(day) else None


def date_field(
    result: FormResult, name: str, raw: str, hint: str, *, required: bool = True
) -> dt.date | None:
    """Reads the date typed in field `name`; on error, sets `result.errors[name]`: `hint`
    (the field's own wording of the expected format) when unreadable, the range when
    implausible. Empty and not required: None without error."""
    if not raw.strip() and not required:
        return None
    day = read_date(raw)
    if day is None:
        result.errors[name] = hint
        return None
    if not plausible_date(day):
        result.errors[name] = DATE_RANGE_MESSAGE
        return None
    return day


def check_date(day: dt.date | None, field: str) -> None:
    """The services' guard, for callers that are not forms (imports, jobs, scripts)."""
    if day is not None and not plausible_date(day):
        raise FieldError(DATE_RANGE_MESSAGE, field)
