"""The life of a convention, as a state table, and the rules on its duration.

| from            | to            | who                       | condition                          |
|-----------------|---------------|---------------------------|------------------------------------|
| -               | brouillon     | pilot                     | from the default model, an avenant |
|                 |               |                           | or a renewal of a signed one       |
| brouillon       | en relecture  | pilot                     | a snapshot version is taken        |
| en relecture    | brouillon     | pilot                     | -                                  |
| en relecture    | prête à signer| pilot                     | plan balanced, start date, parties |
|                 |               |                           | with signatories, no open proposal;|
|                 |               |                           | the version is frozen: snapshot,   |
|                 |               |                           | SHA-256, PDF rendered once         |
| prête à signer  | en relecture  | pilot                     | reopened before signature; the     |
|                 |               |                           | frozen version stays as it was     |
| prête à signer  | signée        | the signature capability  | all parties signed the frozen PDF  |
| signée          | en vigueur    | the calendar              | from its start date                |
| en vigueur      | échue         | the calendar              | the day after its end date         |

Content (articles, parties, budget, indicators, annexes) changes only in brouillon and en
relecture. Parties comment and propose changes in the same two states. A signed convention is
amended by an avenant or renewed: each is a new brouillon linked to the signed version.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from portal.conventions.enums import ConventionStatus, DisplayStatus
from portal.core.forms import FieldError

EDITABLE = frozenset({ConventionStatus.DRAFT, ConventionStatus.REVIEW})
INITIAL_DURATIONS = (12, 24)
MAX_TOTAL_MONTHS = 48

# (from, to) → French label of the action; anything else is refused.
TRANSITIONS: dict[tuple[ConventionStatus, ConventionStatus], str] = {
    (ConventionStatus.DRAFT, ConventionStatus.REVIEW): "Soumettre en relecture",
    (ConventionStatus.REVIEW, ConventionStatus.DRAFT): "Revenir au brouillon",
    (ConventionStatus.REVIEW, ConventionStatus.READY): "Figer pour signature",
    (ConventionStatus.READY, ConventionStatus.REVIEW): "Rouvrir la relecture",
    (ConventionStatus.READY, ConventionStatus.SIGNED): "Enregistrer la signature",
}

_REFUSALS = {
    (ConventionStatus.DRAFT, ConventionStatus.READY): (
        "Soumettez d'abord la convention en relecture : les parties doivent pouvoir la relire "
        "avant qu'elle soit figée."
    ),
    (ConventionStatus.DRAFT, ConventionStatus.SIGNED): (
        "Une convention en brouillon ne peut pas être signée : elle doit d'abord être figée."
    ),
    (ConventionStatus.REVIEW, ConventionStatus.SIGNED): (
        "Une convention en relecture ne peut pas être signée : elle doit d'abord être figée."
    ),
}


def check_transition(current: str, target: str) -> None:
    """Raises `FieldError` (field "status") with a French reason when the move is not allowed."""
    pair = (ConventionStatus(current), ConventionStatus(target))
    if pair in TRANSITIONS:
        return
    if pair in _REFUSALS:
        raise FieldError(_REFUSALS[pair], "status")
    if pair[0] == ConventionStatus.SIGNED:
        raise FieldError(
            "Cette convention est signée : pour la modifier, créez un avenant.", "status"
        )
    raise FieldError(
        f"Passage impossible de « {DisplayStatus(pair[0].value).label} » à "
        f"« {DisplayStatus(pair[1].value).label} ».",
        "status",
    )


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, clamped to the month's end (31 jan + 1 month = 28/29 feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def ends_on(convention: Mapping[str, Any]) -> dt.date | None:
    """Last day covered: start + duration − 1 day."""
    start = convention.get("starts_on")
    if start is None:
        return None
    return add_months(start, int(convention["duration_months"])) - dt.timedelta(days=1)


def display_status(convention: Mapping[str, Any], today: dt.date) -> DisplayStatus:
    status = ConventionStatus(convention["status"])
    if status != ConventionStatus.SIGNED:
        return DisplayStatus(status.value)
    start, end = convention.get("starts_on"), ends_on(convention)
    if end is not None and today > end:
        return DisplayStatus.EXPIRED
    if start is not None and today >= start:
        return DisplayStatus.IN_FORCE
    return DisplayStatus.SIGNED


def check_duration(months: int, months_before: int, renewal: bool) -> None:
    """Initial terms and renewals last 12 or 24 months; all terms together at most 48."""
    if months not in INITIAL_DURATIONS:
        raise FieldError("La durée est de 12 ou 24 mois.", "duration_months")
    total = months_before + months
    if total > MAX_TOTAL_MONTHS:
        left = MAX_TOTAL_MONTHS - months_before
        what = "Ce renouvellement" if renewal else "Cette durée"
        rest = f"il reste {left} mois possibles." if left > 0 else "la durée maximale est atteinte."
        raise FieldError(
            f"{what} porterait la durée totale du projet à {total} mois : le programme la "
            f"limite à {MAX_TOTAL_MONTHS} mois, renouvellements compris ; {rest}",
            "duration_months",
        )
