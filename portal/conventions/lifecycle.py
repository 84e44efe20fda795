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

A chain is a convention with its avenants and renewals. Each initial convention or renewal is
a period (a term); its avenants replace it over the same period. Periods of a chain never
overlap, and only the last period is renewed: a version that already has a renewal (draft or
signed) is not renewed again, else two signed renewals would cover the same months.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from portal.conventions.enums import ConventionStatus, DisplayStatus, Origin
from portal.core.forms import FieldError
from portal.core.templating import date_fr

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
    # A date stored before dates were bounded (year 9998) must still show: past the
    # calendar's ends, the end itself.
    if year > dt.MAXYEAR:
        return dt.date.max
    if year < dt.MINYEAR:
        return dt.date.min
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


# Chains: a convention, its avenants and its renewals -----------------------------------------

Row = Mapping[str, Any]


def _term(row: Row, by_id: Mapping[Any, Row]) -> Any:
    """The period a convention covers: the initial convention or renewal it amends, if any."""
    seen = set()
    while row["origin"] == Origin.AMENDMENT and row["parent"] in by_id and row["id"] not in seen:
        seen.add(row["id"])
        row = by_id[row["parent"]]
    return row["id"]


def chain(row: Row, rows: Sequence[Row]) -> list[Row]:
    """Every convention linked to this one by avenants and renewals, this one included (as
    given: `row` may carry values not saved yet)."""
    by_id = {r["id"]: r for r in rows} | {row["id"]: row}

    def root(r: Row) -> Any:
        seen = set()
        while r["parent"] in by_id and r["id"] not in seen:
            seen.add(r["id"])
            r = by_id[r["parent"]]
        return r["id"]

    mine = root(row)
    return [r for r in by_id.values() if root(r) == mine]


def _period(row: Row) -> str:
    return f"du {date_fr(row['starts_on'])} au {date_fr(ends_on(row))}"


def overlapping(row: Row, rows: Sequence[Row]) -> list[Row]:
    """The conventions of other periods of the chain whose dates overlap this one's."""
    members = chain(row, rows)
    by_id = {r["id"]: r for r in members}
    start, end = row.get("starts_on"), ends_on(row)
    if start is None or end is None:
        return []
    term = _term(row, by_id)
    found = []
    for other in members:
        other_start, other_end = other.get("starts_on"), ends_on(other)
        if other["id"] == row["id"] or other_start is None or other_end is None:
            continue
        if _term(other, by_id) != term and other_start <= end and start <= other_end:
            found.append(other)
    return found


def overlap_message(row: Row, other: Row) -> str:
    return (
        f"Cette période ({_period(row)}) chevauche celle de {other['reference']} "
        f"« {other['title']} » ({_period(other)}) : les périodes d'une convention et de ses "
        "renouvellements ne se recouvrent jamais ; "
        + (
            f"celle-ci doit commencer après le {date_fr(ends_on(other))}."
            if other["starts_on"] <= row["starts_on"]
            else f"celle-ci doit finir avant le {date_fr(other['starts_on'])}."
        )
    )


def renewal_of(row: Row, rows: Sequence[Row]) -> Row | None:
    """The renewal (draft or signed) of this convention's period, if there is one."""
    members = chain(row, rows)
    by_id = {r["id"]: r for r in members}
    term = _term(row, by_id)
    for other in members:
        parent = by_id.get(other["parent"])
        if other["origin"] == Origin.RENEWAL and parent is not None:
            if _term(parent, by_id) == term:
                return other
    return None


def check_renewable(row: Row, rows: Sequence[Row]) -> None:
    """Only the last period of a chain is renewed, once, from its latest signed version."""
    renewal = renewal_of(row, rows)
    if renewal is not None:
        raise FieldError(
            f"Cette période a déjà été renouvelée par {renewal['reference']} "
            f"« {renewal['title']} » ({DisplayStatus(renewal['status']).label.lower()}) : seule "
            "la dernière période d'une convention peut être renouvelée, une seule fois.",
            "renewal",
        )
    members = chain(row, rows)
    by_id = {r["id"]: r for r in members}
    term = _term(row, by_id)
    signed = [
        r
        for r in members
        if r["status"] == ConventionStatus.SIGNED and _term(r, by_id) == term and r["signed_at"]
    ]
    latest = max(signed, key=lambda r: r["signed_at"], default=None)
    if latest is not None and latest["id"] != row["id"]:
        raise FieldError(
            f"Cette version a été remplacée par {latest['reference']} « {latest['title']} », "
            "signée depuis : renouvelez la dernière version signée.",
            "renewal",
        )
