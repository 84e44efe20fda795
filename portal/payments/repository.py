"""Queries of the payments domain. Every function takes a `TenantScope` and filters by it;
listings also take the member's `Sight` (see `access`), so hidden schedules are never loaded.
`locked_line` serialises what is done to one line (payments, cancellations)."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from piccolo.query import Select

from portal.core import clock, db, scoped
from portal.core.prepared import Prepared, prepared
from portal.core.scoped import unscoped
from portal.core.tenancy import TenantScope
from portal.core.visibility import within
from portal.payments.access import Sight
from portal.payments.enums import LineStatus
from portal.payments.tables import Export, ExportModel, Line, Payment, Schedule

Row = dict[str, Any]


def _seen(view: Sight, convention: Any, beneficiary: Any, payer: Any) -> Any:
    """The `Sight` as a WHERE clause on the schedule's columns (None: everything)."""
    if view.everything:
        return None
    clause = beneficiary == view.organisation
    if not view.beneficiary_only:
        clause = clause | (payer == view.organisation)
    if view.conventions.any:
        clause = clause | within(view.conventions, convention)
    return clause


# Schedules ---------------------------------------------------------------------------------

_SCHEDULE_COLUMNS = (
    *Schedule.all_columns(),
    Schedule.convention.reference.as_alias("convention_reference"),
    Schedule.convention.title.as_alias("convention_title"),
    Schedule.convention.kind.as_alias("convention_kind"),
    Schedule.convention.status.as_alias("convention_status"),
    Schedule.convention.starts_on.as_alias("convention_starts_on"),
    Schedule.beneficiary.name.as_alias("beneficiary_name"),
    Schedule.beneficiary.siret.as_alias("beneficiary_siret"),
)


async def insert_schedule(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Schedule, values)


async def schedule(scope: TenantScope, schedule_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Schedule, *_SCHEDULE_COLUMNS)
        .where(Schedule.id == schedule_id)
        .first()
    )
    return row


def _schedules_query(scope: TenantScope, view: Sight, convention_id: uuid.UUID | None) -> Any:
    query = scoped.select(scope, Schedule, *_SCHEDULE_COLUMNS)
    seen = _seen(view, Schedule.convention, Schedule.beneficiary, Schedule.payer_organisation)
    if seen is not None:
        query = query.where(seen)
    if convention_id is not None:
        query = query.where(Schedule.convention == convention_id)
    return (
        query.order_by(Schedule.convention.reference)
        .order_by(Schedule.kind, ascending=False)  # subsidies first
        .order_by(Schedule.beneficiary.name)
    )


_BySight = dict[tuple[bool, bool], Prepared[list[Row]]]


def _per_kind_of_sight(query: Callable[[Any, Sight], Any]) -> _BySight:
    """`query(scope, view)` built once per kind of sight that reaches no convention (everyone
    but the State's agents): `_seen` writes a clause of one fixed shape for each (everything,
    beneficiary_only), the organisation bound as a value (`core/prepared.py`)."""

    def one(everything: bool, beneficiary_only: bool) -> Prepared[list[Row]]:
        return prepared(
            lambda p: query(p.scope, Sight(everything, p.organisation, beneficiary_only))
        )

    return {(e, b): one(e, b) for e in (True, False) for b in (True, False)}


async def _seen_by(queries: _BySight, scope: TenantScope, view: Sight) -> list[Row]:
    rows: list[Row] = await queries[view.everything, view.beneficiary_only](
        scope=scope, organisation=view.organisation
    )
    return rows


# Every schedule a member sees, on each payments page.
_ALL_SCHEDULES = _per_kind_of_sight(lambda scope, view: _schedules_query(scope, view, None))


async def schedules(
    scope: TenantScope, view: Sight, convention_id: uuid.UUID | None = None
) -> list[Row]:
    if convention_id is None and not view.conventions.any:
        return await _seen_by(_ALL_SCHEDULES, scope, view)
    rows: list[Row] = await _schedules_query(scope, view, convention_id)
    return rows


async def update_schedule(
    scope: TenantScope, schedule_id: uuid.UUID, values: dict[str, Any], revision: int
) -> bool:
    """Optimistic: False when someone saved the schedule since `revision` was read."""
    rows = (
        await scoped.update(
            scope,
            Schedule,
            {
                **values,
                Schedule.revision: revision + 1,
                Schedule.updated_at: clock.now(),
            },
        )
        .where((Schedule.id == schedule_id) & (Schedule.revision == revision))
        .returning(Schedule.id)
    )
    return bool(rows)


# Lines -------------------------------------------------------------------------------------

# Two joins away: piccolo's types stop at one (the columns exist; see the tables).
_CONVENTION: Any = Line.schedule.convention
_BENEFICIARY: Any = Line.schedule.beneficiary

_LINE_COLUMNS = (
    *Line.all_columns(),
    Line.schedule.kind.as_alias("kind"),
    Line.schedule.label.as_alias("schedule_label"),
    Line.schedule.funder.as_alias("funder"),
    Line.schedule.basis.as_alias("basis"),
    Line.schedule.unit_cost_cents.as_alias("unit_cost_cents"),
    Line.schedule.unit_label.as_alias("unit_label"),
    Line.schedule.rate_percent.as_alias("rate_percent"),
    Line.schedule.total_cents.as_alias("total_cents"),
    Line.schedule.source_schedule.as_alias("source_schedule"),
    Line.schedule.payer_name.as_alias("payer_name"),
    Line.schedule.payer_organisation.as_alias("payer_organisation"),
    Line.schedule.beneficiary.as_alias("beneficiary"),
    _BENEFICIARY.name.as_alias("beneficiary_name"),
    _BENEFICIARY.siret.as_alias("beneficiary_siret"),
    Line.schedule.convention.as_alias("convention"),
    _CONVENTION.reference.as_alias("convention_reference"),
    _CONVENTION.title.as_alias("convention_title"),
    _CONVENTION.status.as_alias("convention_status"),
    _CONVENTION.starts_on.as_alias("convention_starts_on"),
    _CONVENTION.signed_at.as_alias("convention_signed_at"),
)


@dataclass(frozen=True)
class LineFilter:
    convention: uuid.UUID | None = None
    kind: str | None = None
    statuses: tuple[str, ...] = ()
    organisation: uuid.UUID | None = None  # payer or beneficiary
    expected_from: dt.date | None = None
    expected_to: dt.date | None = None
    schedule: uuid.UUID | None = None
    ids: tuple[uuid.UUID, ...] = field(default=())


def _line_where(view: Sight, found: LineFilter) -> list[Any]:
    """The clauses `found` and `view` put on a scoped query of lines (ANDed by `where`)."""
    where: list[Any] = []
    seen = _seen(
        view, Line.schedule.convention, Line.schedule.beneficiary, Line.schedule.payer_organisation
    )
    if seen is not None:
        where.append(seen)
    if found.convention is not None:
        where.append(Line.schedule.convention == found.convention)
    if found.schedule is not None:
        where.append(Line.schedule == found.schedule)
    if found.kind:
        where.append(Line.schedule.kind == found.kind)
    if found.statuses:
        where.append(Line.status.is_in(list(found.statuses)))
    if found.organisation is not None:
        where.append(
            (Line.schedule.beneficiary == found.organisation)
            | (Line.schedule.payer_organisation == found.organisation)
        )
    if found.expected_from is not None:
        where.append(Line.expected_on >= found.expected_from)
    if found.expected_to is not None:
        where.append(Line.expected_on <= found.expected_to)
    if found.ids:
        where.append(Line.id.is_in(list(found.ids)))
    return where


# What an export's columns read (see `exports.COLUMNS`): fewer columns, fewer conversions.
_EXPORT_COLUMNS = (
    Line.number,
    Line.label,
    Line.amount_cents,
    Line.paid_cents,
    Line.expected_on,
    Line.requested_on,
    Line.last_paid_on,
    Line.status,
    Line.payment_references,
    Line.schedule.kind.as_alias("kind"),
    Line.schedule.label.as_alias("schedule_label"),
    Line.schedule.funder.as_alias("funder"),
    Line.schedule.payer_name.as_alias("payer_name"),
    _BENEFICIARY.name.as_alias("beneficiary_name"),
    _BENEFICIARY.siret.as_alias("beneficiary_siret"),
    _CONVENTION.reference.as_alias("convention_reference"),
)


def lines_query(
    scope: TenantScope, view: Sight, found: LineFilter, columns: Sequence[Any] = _LINE_COLUMNS
) -> Select[Line]:
    """Lines with their schedule, convention and beneficiary, in reading order. Exports run it
    through `db.stream` (a database cursor): never all rows in memory."""
    return (
        scoped.select(scope, Line, *columns)
        .where(*_line_where(view, found))
        .order_by(_CONVENTION.reference)
        .order_by(Line.schedule.kind, ascending=False)
        .order_by(_BENEFICIARY.name)
        .order_by(Line.schedule.id)
        .order_by(Line.number)
    )


def export_query(scope: TenantScope, view: Sight, found: LineFilter) -> Select[Line]:
    """`lines_query` with only what exports write."""
    return lines_query(scope, view, found, _EXPORT_COLUMNS)


# The payments page without filters; filtered lists and the State's agents' are built each time.
_UNFILTERED_LINES = _per_kind_of_sight(lambda scope, view: lines_query(scope, view, LineFilter()))


async def lines(scope: TenantScope, view: Sight, found: LineFilter | None = None) -> list[Row]:
    found = found or LineFilter()
    if found == LineFilter() and not view.conventions.any:
        return await _seen_by(_UNFILTERED_LINES, scope, view)
    rows: list[Row] = await lines_query(scope, view, found)
    return rows


_PLANNED_LINES = prepared(
    lambda p: lines_query(
        p.scope, Sight(everything=True), LineFilter(statuses=(LineStatus.PLANNED,))
    )
)


async def planned_lines(scope: TenantScope) -> list[Row]:
    """Every line still planned: what the scan of conditions met reads at each payments page
    (built once)."""
    rows: list[Row] = await _PLANNED_LINES(scope=scope)
    return rows


async def count_lines(scope: TenantScope, view: Sight, found: LineFilter) -> int:
    return int(await scoped.count(scope, Line).where(*_line_where(view, found)))


async def line(scope: TenantScope, line_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Line, *_LINE_COLUMNS).where(Line.id == line_id).first()
    )
    return row


async def insert_line(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Line, values)


async def update_line(scope: TenantScope, line_id: uuid.UUID, values: dict[str, Any]) -> None:
    await scoped.update(scope, Line, values).where(Line.id == line_id)


async def delete_line(scope: TenantScope, line_id: uuid.UUID) -> None:
    await scoped.delete(scope, Line).where(Line.id == line_id)


async def open_lines(scope: TenantScope) -> list[Row]:
    """Every line not paid in full (all of the consortium: the scheduler's and reminders'
    view, not a member's)."""
    return await lines(
        scope,
        Sight(everything=True),
        LineFilter(statuses=tuple(s for s in LineStatus if s is not LineStatus.PAID)),
    )


@contextlib.asynccontextmanager
async def locked_line(scope: TenantScope, line_id: uuid.UUID) -> AsyncIterator[Row | None]:
    """One transaction holding the line (see `db.locked`): two people recording a payment
    at once are taken one after the other."""
    query = scoped.select(scope, Line, Line.id).where(Line.id == line_id)
    async with db.locked(query) as found:
        yield await line(scope, line_id) if found else None


# Payments ----------------------------------------------------------------------------------


async def insert_payment(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Payment, values)


async def payments(scope: TenantScope, line_ids: Sequence[uuid.UUID]) -> list[Row]:
    if not line_ids:
        return []
    rows: list[Row] = (
        await scoped.select(scope, Payment)
        .where(Payment.line.is_in(list(line_ids)))
        .order_by(Payment.paid_on)
        .order_by(Payment.recorded_at)
        .output(load_json=True)
    )
    return rows


async def payment(scope: TenantScope, payment_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Payment)
        .where(Payment.id == payment_id)
        .output(load_json=True)
        .first()
    )
    return row


async def cancel_payment(scope: TenantScope, payment_id: uuid.UUID, values: dict[str, Any]) -> None:
    await scoped.update(scope, Payment, values).where(
        (Payment.id == payment_id) & Payment.cancelled_at.is_null()
    )


async def paid_on_schedules(scope: TenantScope, schedule_ids: Sequence[uuid.UUID]) -> int:
    """Cents actually paid (cancellations excluded) on these schedules' lines."""
    if not schedule_ids:
        return 0
    rows = await scoped.select(scope, Line, Line.paid_cents).where(
        Line.schedule.is_in(list(schedule_ids))
    )
    return sum(int(r["paid_cents"]) for r in rows)


async def schedules_passing_on(scope: TenantScope, source_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await scoped.select(scope, Schedule, Schedule.id).where(
        Schedule.source_schedule == source_id
    )
    return [r["id"] for r in rows]


# Export models and exports -----------------------------------------------------------------


def _models_seen(scope: TenantScope, user_id: uuid.UUID, everything: bool) -> Select[ExportModel]:
    """The models a member may see: shared ones and their own; `everything` (the pilots, who
    decide what is shared) sees them all."""
    query = scoped.select(scope, ExportModel)
    if everything:
        return query
    return query.where((ExportModel.shared == True) | (ExportModel.created_by == user_id))  # noqa: E712


async def export_models(scope: TenantScope, user_id: uuid.UUID, everything: bool) -> list[Row]:
    rows: list[Row] = (
        await _models_seen(scope, user_id, everything)
        .order_by(ExportModel.name)
        .output(load_json=True)
    )
    return rows


async def export_model(
    scope: TenantScope, model_id: uuid.UUID, user_id: uuid.UUID, everything: bool
) -> Row | None:
    row: Row | None = (
        await _models_seen(scope, user_id, everything)
        .where(ExportModel.id == model_id)
        .output(load_json=True)
        .first()
    )
    return row


async def export_model_named(scope: TenantScope, name: str) -> Row | None:
    """Whoever it belongs to: names are unique in the consortium."""
    row: Row | None = (
        await scoped.select(scope, ExportModel)
        .where(ExportModel.name == name)
        .output(load_json=True)
        .first()
    )
    return row


async def insert_export_model(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, ExportModel, values)


async def replace_export_model(
    scope: TenantScope, model_id: uuid.UUID, owner: uuid.UUID, values: dict[str, Any]
) -> None:
    """Its owner's only: the owner is part of the WHERE, not checked beforehand."""
    await scoped.update(
        scope,
        ExportModel,
        {ExportModel.columns: values["columns"], ExportModel.format: values["format"]},
    ).where((ExportModel.id == model_id) & (ExportModel.created_by == owner))


async def share_export_model(scope: TenantScope, model_id: uuid.UUID, shared: bool) -> None:
    await scoped.update(scope, ExportModel, {ExportModel.shared: shared}).where(
        ExportModel.id == model_id
    )


async def delete_export_model(scope: TenantScope, model_id: uuid.UUID, owner: uuid.UUID) -> None:
    await scoped.delete(scope, ExportModel).where(
        (ExportModel.id == model_id) & (ExportModel.created_by == owner)
    )


async def insert_export(scope: TenantScope, values: dict[str, Any]) -> uuid.UUID:
    return await scoped.add(scope, Export, values)


async def export(scope: TenantScope, export_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await scoped.select(scope, Export)
        .where(Export.id == export_id)
        .output(load_json=True)
        .first()
    )
    return row


async def exports_of(scope: TenantScope, user_id: uuid.UUID, limit: int = 10) -> list[Row]:
    rows: list[Row] = (
        await scoped.select(scope, Export)
        .where(Export.requested_by == user_id)
        .order_by(Export.created_at, ascending=False)
        .limit(limit)
        .output(load_json=True)
    )
    return rows


async def update_export(scope: TenantScope, export_id: uuid.UUID, values: dict[str, Any]) -> None:
    await scoped.update(scope, Export, values).where(Export.id == export_id)


@unscoped("the housekeeping removes old export files in every consortium")
async def exports_to_remove(before: dt.datetime) -> list[Row]:
    """Platform-wide, for the housekeeping: finished exports whose file is still stored."""
    rows: list[Row] = await Export.select(Export.id, Export.consortium, Export.storage_key).where(
        Export.storage_key.is_not_null() & (Export.finished_at < before)
    )
    return rows
