"""Small helpers for server-side form validation: values and errors keyed by field name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import FormData


@dataclass
class FormResult:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def text(form: FormData, name: str, max_length: int = 200) -> str:
    value = form.get(name, "")
    return value.strip()[:max_length] if isinstance(value, str) else ""


def checkbox(form: FormData, name: str) -> bool:
    return form.get(name) in {"on", "1", "true", "oui"}
