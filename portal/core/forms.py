"""Small helpers for server-side form validation: values and errors keyed by field name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from starlette.datastructures import FormData

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


def text(form: FormData, name: str, max_length: int = 200) -> str:
    value = form.get(name, "")
    return value.strip()[:max_length] if isinstance(value, str) else ""


def checkbox(form: FormData, name: str) -> bool:
    return form.get(name) in {"on", "1", "true", "oui"}
