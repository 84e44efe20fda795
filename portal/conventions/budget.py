"""The budget annex, computed from its lines as declared: totals by category and by funder, the
balance between resources and expenses, and declared unit costs compared with the totals.

Nothing here derives one figure from another to fill a gap: a unit cost and a total are both
shown as declared, with their difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portal.conventions.enums import ExpenseCategory, Funder
from portal.core.templating import euros

EXPENSE = "expense"
RESOURCE = "resource"


@dataclass(frozen=True)
class Total:
    code: str
    label: str
    cents: int


@dataclass(frozen=True)
class UnitCheck:
    """A declared unit cost × its quantity, next to the total of the matching expense lines."""

    label: str
    unit_cents: int
    quantity: int
    quantity_label: str
    expected_cents: int
    declared_cents: int

    @property
    def difference_cents(self) -> int:
        return self.declared_cents - self.expected_cents


@dataclass(frozen=True)
class Summary:
    expenses_cents: int
    eligible_cents: int
    resources_cents: int
    confirmed_cents: int
    in_kind_cents: int
    state_fund_cents: int
    by_category: list[Total]
    by_funder: list[Total]
    units: list[UnitCheck]

    @property
    def difference_cents(self) -> int:
        """Resources minus expenses: positive when resources exceed expenses."""
        return self.resources_cents - self.expenses_cents

    @property
    def balanced(self) -> bool:
        return self.expenses_cents > 0 and self.difference_cents == 0

    @property
    def balance_message(self) -> str:
        if self.expenses_cents == 0:
            return "Le plan de financement est vide : ajoutez les dépenses et les ressources."
        diff = self.difference_cents
        if diff == 0:
            return "Le plan de financement est équilibré."
        if diff > 0:
            return (
                f"Les ressources dépassent les dépenses de {euros(diff)} : réduisez une "
                "ressource ou complétez les dépenses."
            )
        return (
            f"Il manque {euros(-diff)} de ressources pour couvrir les dépenses : ajoutez ou "
            "augmentez une ressource."
        )


def _totals(lines: Sequence[Mapping[str, Any]], labels: Mapping[str, str]) -> list[Total]:
    sums: dict[str, int] = {}
    for line in lines:
        sums[line["category"]] = sums.get(line["category"], 0) + int(line["amount_cents"])
    return [Total(code, label, sums[code]) for code, label in labels.items() if code in sums]


def _years(months: int) -> tuple[int, int]:
    """A duration in months as a fraction of years (numerator, denominator), kept exact."""
    return months, 12


def summarise(lines: Sequence[Mapping[str, Any]], convention: Mapping[str, Any]) -> Summary:
    expenses = [line for line in lines if line["side"] == EXPENSE]
    resources = [line for line in lines if line["side"] == RESOURCE]
    by_category = _totals(expenses, {c.value: c.label for c in ExpenseCategory})
    per_category = {t.code: t.cents for t in by_category}
    months = int(convention.get("duration_months") or 0)
    num, den = _years(months)
    households = convention.get("households_target")
    homes = convention.get("homes_target")
    units: list[UnitCheck] = []
    specs = [
        (
            "unit_diagnostic_cents",
            ExpenseCategory.DIAGNOSTIC,
            households,
            "ménages",
            1,
            1,
            "Diagnostic par ménage",
        ),
        (
            "unit_accompaniment_cents",
            ExpenseCategory.ACCOMPANIMENT,
            households,
            "ménages",
            num,
            den,
            "Accompagnement par ménage et par an",
        ),
        (
            "unit_gla_cents",
            ExpenseCategory.GLA,
            homes,
            "logements",
            num,
            den,
            "Gestion locative adaptée par logement et par an",
        ),
    ]
    for column, category, quantity, quantity_label, n, d, label in specs:
        unit = convention.get(column)
        if unit is None or not quantity:
            continue
        # Integer arithmetic, rounded to the cent: unit × quantity × months / 12.
        expected = (int(unit) * int(quantity) * n + d // 2) // d
        units.append(
            UnitCheck(
                label=label,
                unit_cents=int(unit),
                quantity=int(quantity),
                quantity_label=quantity_label + (f" sur {months} mois" if d == 12 else ""),
                expected_cents=expected,
                declared_cents=per_category.get(category.value, 0),
            )
        )
    return Summary(
        expenses_cents=sum(int(line["amount_cents"]) for line in expenses),
        eligible_cents=sum(int(line["amount_cents"]) for line in expenses if line["eligible"]),
        resources_cents=sum(int(line["amount_cents"]) for line in resources),
        confirmed_cents=sum(int(line["amount_cents"]) for line in resources if line["confirmed"]),
        in_kind_cents=sum(int(line["amount_cents"]) for line in resources if line["in_kind"]),
        state_fund_cents=sum(
            int(line["amount_cents"])
            for line in resources
            if line["category"] == Funder.STATE_FUND.value
        ),
        by_category=by_category,
        by_funder=_totals(resources, {f.value: f.label for f in Funder}),
        units=units,
    )
