"""The life of a line (échéance), as a state table, and the pure rules around it: its amount,
its status, when it is late, who must act. The status is stored for queries and exports but
always follows from the line's facts (condition met, request, payments), so it cannot drift.

| from               | to        | who            | function         | case                  |
|--------------------|-----------|----------------|------------------|-----------------------|
| -                  | planned   | pilot, finance | `save_schedule`  | the schedule is set   |
| planned            | due       | the portal     | `refresh`        | trigger met (signed,  |
|                    |           |                |                  | document validated,   |
|                    |           |                |                  | subsidy received, date|
|                    |           |                |                  | reached), amount known|
| planned            | due       | pilot, finance | `mark_met`       | met outside the portal|
|                    |           |                |                  | (a note says how)     |
| due                | requested | pilot, finance | `record_request` | subsidies: asked of   |
|                    |           |                |                  | the funder            |
| planned … partial  | partial   | pilot, finance | `record_payment` | paid less than due    |
| planned … partial  | paid      | pilot, finance | `record_payment` | paid in full          |
| partial, paid      | (derived) | pilot, finance | `cancel_payment` | a mistaken payment is |
|                    |           |                |                  | cancelled (reason)    |

(functions of `portal.payments.service`)

Payments are dated from the convention's signature, which usually comes before its start
(the advance is paid at signature). Dating one before the signature, paying a line that is not
due yet, paying more than remains, or passing on more than was received are warnings, not
errors: the person confirms with a reason, which is kept.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from portal.core.templating import euros
from portal.payments.enums import Basis, LineStatus, ScheduleKind, Trigger

# A requested subsidy installment is expected to arrive within this delay.
PAYMENT_DELAY = dt.timedelta(days=30)


def amount_of(schedule: Mapping[str, Any], line: Mapping[str, Any]) -> int | None:
    """The line's amount in cents, or None while results or expenses are not declared."""
    basis = Basis(schedule["basis"])
    if basis is Basis.FIXED:
        return int(line["amount_cents"]) if line["amount_cents"] is not None else None
    if basis is Basis.RESULTS:
        if line["quantity"] is None or schedule["unit_cost_cents"] is None:
            return None
        return int(line["quantity"]) * int(schedule["unit_cost_cents"])
    if line["justified_cents"] is None:
        return None
    # Integer arithmetic, rounded down to the cent: never more than the agreed share.
    return int(line["justified_cents"]) * int(schedule["rate_percent"]) // 100


def status_of(line: Mapping[str, Any], amount: int | None) -> LineStatus:
    paid = int(line["paid_cents"] or 0)
    if paid > 0 and amount is not None and paid >= amount:
        return LineStatus.PAID
    if paid > 0:
        return LineStatus.PARTIAL
    if line["requested_on"] is not None:
        return LineStatus.REQUESTED
    if line["met_at"] is not None and amount is not None:
        return LineStatus.DUE  # results or expenses must be declared first
    return LineStatus.PLANNED


def deadline(line: Mapping[str, Any]) -> dt.date:
    """When the next step is expected: the planned date, or a month after a request."""
    expected: dt.date = line["expected_on"]
    if line["status"] == LineStatus.REQUESTED and line["requested_on"] is not None:
        requested: dt.date = line["requested_on"]
        return max(expected, requested + PAYMENT_DELAY)
    return expected


def is_late(line: Mapping[str, Any], today: dt.date) -> bool:
    return line["status"] != LineStatus.PAID and deadline(line) < today


def remaining(line: Mapping[str, Any]) -> int | None:
    if line["amount_cents"] is None:
        return None
    return max(int(line["amount_cents"]) - int(line["paid_cents"] or 0), 0)


def awaits_declaration(schedule: Mapping[str, Any], line: Mapping[str, Any]) -> bool:
    return Basis(schedule["basis"]) is not Basis.FIXED and line["amount_cents"] is None


def actor(schedule: Mapping[str, Any], line: Mapping[str, Any]) -> str:
    """Who must act now: "beneficiary" (declare results, request a subsidy payment), "payer"
    (pay), or "trigger" (whoever the trigger waits for: a document, a signature, a subsidy)."""
    status = LineStatus(line["status"])
    if status in (LineStatus.REQUESTED, LineStatus.PARTIAL):
        return "payer"
    if status is LineStatus.DUE:
        return "beneficiary" if schedule["kind"] == ScheduleKind.SUBSIDY else "payer"
    if awaits_declaration(schedule, line) and line["met_at"] is not None:
        return "beneficiary"
    return "trigger"


def explain(schedule: Mapping[str, Any], line: Mapping[str, Any], trigger_text: str = "") -> str:
    """Why this amount, and when it is payable, in French, for the people being paid."""
    basis = Basis(schedule["basis"])
    unit = schedule["unit_label"] or "unité"
    if basis is Basis.FIXED:
        how = f"Montant convenu : {euros(line['amount_cents'])}"
    elif basis is Basis.RESULTS:
        cost = euros(schedule["unit_cost_cents"])
        how = (
            f"{line['quantity']} × {cost} ({unit})"
            if line["quantity"] is not None
            else f"Selon les résultats déclarés : {cost} par {unit}"
        )
    else:
        rate = schedule["rate_percent"]
        how = (
            f"{rate} % des dépenses justifiées ({euros(line['justified_cents'])})"
            if line["justified_cents"] is not None
            else f"{rate} % des dépenses justifiées, à déclarer"
        )
    when = trigger_text or Trigger(line["trigger"]).label
    return f"{how}, payable {when}."
