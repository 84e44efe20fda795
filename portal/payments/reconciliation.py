"""Reconciliation: per convention and per period, the budget, what was granted, received,
passed on and justified; what is still owed to each beneficiary (each association above all);
what each bailleur received and passed on; then the late lines and who must act. Computed
from the lines the member may see, as declared: figures that do not add up are shown as they
are, with their difference.

"Justifié": amounts established by evidence, i.e. results or expenses declared, or a fixed
line whose condition was a document that has been validated.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from portal.conventions import service as conventions
from portal.core.tenancy import TenantContext
from portal.payments import lifecycle, repository, service
from portal.payments.enums import Basis, LineStatus, ScheduleKind, Trigger

_PERIOD = re.compile(r"^(\d{4})(?:-T([1-4]))?$")


@dataclass(frozen=True)
class Period:
    code: str  # "" (everything), "2027", "2027-T2"
    label: str
    start: dt.date | None
    end: dt.date | None

    def holds(self, day: dt.date | None) -> bool:
        if day is None:
            return False
        return (self.start is None or day >= self.start) and (self.end is None or day <= self.end)


ALL = Period("", "Toute la durée", None, None)


def parse_period(code: str) -> Period:
    match = _PERIOD.match(code.strip())
    if not match:
        return ALL
    year = int(match.group(1))
    if match.group(2) is None:
        return Period(code, f"Année {year}", dt.date(year, 1, 1), dt.date(year, 12, 31))
    quarter = int(match.group(2))
    start = dt.date(year, 3 * quarter - 2, 1)
    end = (dt.date(year + 1, 1, 1) if quarter == 4 else dt.date(year, 3 * quarter + 1, 1)) - (
        dt.timedelta(days=1)
    )
    return Period(code, f"{quarter}{'er' if quarter == 1 else 'e'} trimestre {year}", start, end)


def period_choices(lines: Iterable[dict[str, Any]]) -> list[Period]:
    years = sorted({line["expected_on"].year for line in lines})
    choices = [ALL]
    for year in years:
        choices.append(parse_period(str(year)))
        choices += [parse_period(f"{year}-T{q}") for q in range(1, 5)]
    return choices


def justified(line: dict[str, Any]) -> int:
    if line["amount_cents"] is None:
        return 0
    if Basis(line["basis"]) is not Basis.FIXED:
        return int(line["amount_cents"])
    if line["trigger"] == Trigger.DOCUMENT and line["met_at"] is not None:
        return int(line["amount_cents"])
    return 0


@dataclass
class ConventionFigures:
    id: uuid.UUID
    reference: str
    title: str
    budget_cents: int | None = None  # None: not visible to this member
    granted_cents: int = 0
    planned_cents: int = 0  # subsidy lines expected in the period
    received_cents: int = 0
    passed_on_cents: int = 0
    justified_cents: int = 0
    owed_cents: int = 0  # reversements due and unpaid


@dataclass
class BeneficiaryFigures:
    id: uuid.UUID
    name: str
    siret: str
    owed_cents: int = 0  # due now and not paid
    paid_cents: int = 0  # in the period
    to_come_cents: int = 0  # planned, amount known
    undeclared: int = 0  # lines whose amount awaits results or expenses
    late: int = 0
    receives_repayments: bool = False  # an association paid by a bailleur: has a statement


@dataclass
class CarrierFigures:
    """A bailleur passing subsidies on: received (as beneficiary) and passed on (as payer)."""

    id: uuid.UUID
    name: str
    received_cents: int = 0
    passed_on_cents: int = 0

    @property
    def advanced_cents(self) -> int:
        """Passed on beyond what was received: paid from the bailleur's own funds."""
        return max(self.passed_on_cents - self.received_cents, 0)


@dataclass
class Reconciliation:
    period: Period
    conventions: list[ConventionFigures]
    beneficiaries: list[BeneficiaryFigures]
    carriers: list[CarrierFigures]
    overdue: list[dict[str, Any]]
    choices: list[Period] = field(default_factory=list)


def _owner(line: dict[str, Any]) -> str:
    who = lifecycle.actor(line, line)
    if who == "beneficiary":
        return f"{line['beneficiary_name']} (bénéficiaire)"
    if who == "payer":
        return f"{line['payer_name']} (payeur)"
    return f"la condition : {line['why'].split('payable ', 1)[-1].rstrip('.')}"


async def reconcile(ctx: TenantContext, period: Period) -> Reconciliation:
    lines = await service.visible_lines(ctx)
    payments = [
        p
        for p in await repository.payments(ctx, [line["id"] for line in lines])
        if p["cancelled_at"] is None and period.holds(p["paid_on"])
    ]
    paid_in_period: dict[uuid.UUID, int] = {}
    for p in payments:
        paid_in_period[p["line"]] = paid_in_period.get(p["line"], 0) + int(p["amount_cents"])
    figures: dict[uuid.UUID, ConventionFigures] = {}
    beneficiaries: dict[uuid.UUID, BeneficiaryFigures] = {}
    granted_seen: set[uuid.UUID] = set()
    received_by: dict[uuid.UUID, int] = {}
    for line in lines:
        convention = figures.setdefault(
            line["convention"],
            ConventionFigures(
                line["convention"], line["convention_reference"], line["convention_title"]
            ),
        )
        paid = paid_in_period.get(line["id"], 0)
        in_period = period.holds(line["expected_on"])
        owed = (
            line["remaining_cents"] or 0
            if line["status"] in (LineStatus.DUE, LineStatus.REQUESTED, LineStatus.PARTIAL)
            else 0
        )
        beneficiary = beneficiaries.setdefault(
            line["beneficiary"],
            BeneficiaryFigures(
                line["beneficiary"], line["beneficiary_name"], line["beneficiary_siret"]
            ),
        )
        beneficiary.owed_cents += owed
        beneficiary.paid_cents += paid
        if line["status"] == LineStatus.PLANNED and line["amount_cents"] is not None:
            beneficiary.to_come_cents += int(line["amount_cents"])
        beneficiary.undeclared += int(line["awaits_declaration"])
        beneficiary.late += int(line["late"])
        if line["kind"] == ScheduleKind.SUBSIDY:
            if line["schedule"] not in granted_seen and line["total_cents"] is not None:
                granted_seen.add(line["schedule"])
                convention.granted_cents += int(line["total_cents"])
            if in_period:
                convention.planned_cents += line["amount_cents"] or 0
            convention.received_cents += paid
            received_by[line["beneficiary"]] = received_by.get(line["beneficiary"], 0) + paid
            continue
        beneficiary.receives_repayments = True
        convention.passed_on_cents += paid
        if in_period:
            convention.justified_cents += justified(line)
        convention.owed_cents += owed
    carriers: dict[uuid.UUID, CarrierFigures] = {}
    for line in lines:
        if line["kind"] == ScheduleKind.REPAYMENT and line["payer_organisation"] is not None:
            payer = line["payer_organisation"]
            carrier = carriers.setdefault(
                payer, CarrierFigures(payer, line["payer_name"], received_by.get(payer, 0))
            )
            carrier.passed_on_cents += paid_in_period.get(line["id"], 0)
    visible = {c["id"] for c in await conventions.signed_conventions(ctx)}
    for convention in figures.values():
        if convention.id in visible and await conventions.open_convention(ctx, convention.id):
            summary = await conventions.budget_summary(ctx, convention.id)
            convention.budget_cents = summary.expenses_cents if summary else None
    overdue = [
        {**line, "owner": _owner(line)}
        for line in sorted(lines, key=lifecycle.deadline)
        if line["late"]
    ]
    return Reconciliation(
        period=period,
        conventions=sorted(figures.values(), key=lambda c: c.reference),
        beneficiaries=sorted(beneficiaries.values(), key=lambda a: a.name),
        carriers=sorted(carriers.values(), key=lambda c: c.name),
        overdue=overdue,
        choices=period_choices(lines),
    )


def totals(rows: Sequence[ConventionFigures]) -> ConventionFigures:
    total = ConventionFigures(uuid.UUID(int=0), "Total", "")
    for row in rows:
        total.granted_cents += row.granted_cents
        total.planned_cents += row.planned_cents
        total.received_cents += row.received_cents
        total.passed_on_cents += row.passed_on_cents
        total.justified_cents += row.justified_cents
        total.owed_cents += row.owed_cents
    return total
