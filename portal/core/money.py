"""Amounts typed the French way (`1 234,56`, `1234.5 €`) to integer cents, and back for forms.

Amounts are integer cents everywhere: no float ever holds money.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from portal.core.forms import FieldError

_SPACES = re.compile(r"[\s\u00a0\u202f]")
# ASCII digits only: `\d` and `Decimal` would also read « １２３ » as 123.
_SHAPE = re.compile(r"^-?[0-9]+(?:[.,][0-9]{1,2})?$")


def parse_cents(raw: str, field: str, *, required: bool = True) -> int | None:
    """`"1 234,56"` → 123456. Refuses negatives, more than two decimals and anything else with
    a French message for `field`."""
    text = _SPACES.sub("", raw or "").removesuffix("€").removesuffix("EUR")
    if not text:
        if required:
            raise FieldError("Indiquez un montant en euros.", field)
        return None
    if not _SHAPE.match(text):
        raise FieldError(
            "Montant non reconnu : écrivez par exemple 1 234,56 (deux décimales au plus).", field
        )
    try:
        value = Decimal(text.replace(",", "."))
    except InvalidOperation as exc:  # pragma: no cover - the pattern above excludes it
        raise FieldError("Montant non reconnu.", field) from exc
    if value < 0:
        raise FieldError("Le montant ne peut pas être négatif.", field)
    cents = int(value * 100)
    if cents > 10**13:
        raise FieldError("Ce montant dépasse ce que le portail accepte (100 milliards €).", field)
    return cents


def cents_input(cents: int | None) -> str:
    """Cents as a form value: `123456` → `1234,56` (no grouping, so it parses back as typed)."""
    if cents is None:
        return ""
    return f"{cents // 100},{cents % 100:02d}"
