"""The payment-tracking export, in the CGLLS style: one row per installment or reversement,
in CSV for French Excel (`;`, UTF-8 with BOM, decimal comma, dd/mm/yyyy) or XLSX (amounts as
numbers, dates as dates). People choose, order and rename the columns, and may keep the choice
as a named model so that spreadsheets built on an export keep working.

Exports run in the background (`payments.export` job) and stream: rows come from a database
cursor in batches, are written to a temporary file off the event loop, and the file goes to
object storage; memory stays flat whatever the size. The file holds the lines its requester
could see when asking.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import anyio.to_thread

from portal.audit import service as audit
from portal.audit.enums import AuditTag
from portal.auth.service import CurrentUser
from portal.conventions.enums import Funder
from portal.core import clock, spool
from portal.core import periodic as units
from portal.core.actor import Actor
from portal.core.db import stream, transaction, unique_violation
from portal.core.forms import FieldError
from portal.core.outage import Unavailable
from portal.core.permissions import Permission, allows
from portal.core.spreadsheets import CsvSheet, XlsxSheet
from portal.core.storage import get_storage
from portal.core.templating import PARIS
from portal.core.tenancy import TenantContext, TenantScope
from portal.jobs import service as job_service
from portal.objects import service as objects
from portal.payments import access, jobs, lifecycle, repository
from portal.payments.enums import ExportFormat, ExportStatus, LineStatus, ScheduleKind
from portal.payments.repository import LineFilter, Row
from portal.tenants import service as tenants

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

BATCH = 2_000
KEPT_FOR = dt.timedelta(days=7)  # an export's file, then it is removed (asked for again)
OWNER = "payments"  # in the ledger of objects
AMOUNT_FORMAT = '#,##0.00 "€"'
DATE_FORMAT = "DD/MM/YYYY"
CONTENT_TYPES = {
    ExportFormat.CSV: "text/csv; charset=utf-8",
    ExportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@dataclasses.dataclass(frozen=True)
class Column:
    key: str
    label: str  # default heading
    help: str  # what it holds (shown in the form and in the README)
    kind: str  # text | amount | date | number
    value: Callable[[Row, dt.date], Any]


def _funder(row: Row, _: dt.date) -> str:
    try:
        return Funder(row["funder"]).label
    except ValueError:
        return str(row["funder"])


COLUMNS: tuple[Column, ...] = (
    Column("consortium", "Consortium", "nom du consortium", "text", lambda r, _: r["consortium"]),
    Column(
        "convention",
        "Référence convention",
        "référence de la convention signée",
        "text",
        lambda r, _: r["convention_reference"],
    ),
    Column(
        "kind",
        "Type",
        "Subvention (d'un financeur) ou Reversement (du bailleur à une association)",
        "text",
        lambda r, _: ScheduleKind(r["kind"]).label,
    ),
    Column(
        "funder", "Financeur", "origine des fonds (fonds FNAVDL, département…)", "text", _funder
    ),
    Column("payer", "Payeur", "qui paie (CGLLS, bailleur…)", "text", lambda r, _: r["payer_name"]),
    Column(
        "beneficiary",
        "Bénéficiaire",
        "qui reçoit",
        "text",
        lambda r, _: r["beneficiary_name"],
    ),
    Column(
        "siret",
        "SIRET du bénéficiaire",
        "14 chiffres",
        "text",
        lambda r, _: r["beneficiary_siret"],
    ),
    Column(
        "schedule",
        "Échéancier",
        "intitulé de l'échéancier",
        "text",
        lambda r, _: r["schedule_label"],
    ),
    Column(
        "number",
        "N° d'échéance",
        "rang de l'échéance dans son échéancier",
        "number",
        lambda r, _: r["number"],
    ),
    Column("label", "Libellé", "intitulé de l'échéance", "text", lambda r, _: r["label"]),
    Column(
        "amount_due",
        "Montant dû",
        "montant de l'échéance, en euros (vide tant que résultats ou dépenses ne sont pas "
        "déclarés)",
        "amount",
        lambda r, _: r["amount_cents"],
    ),
    Column(
        "amount_paid",
        "Montant versé",
        "total des versements enregistrés (annulations déduites), en euros",
        "amount",
        lambda r, _: r["paid_cents"],
    ),
    Column(
        "remaining",
        "Reste à verser",
        "montant dû moins montant versé, en euros",
        "amount",
        lambda r, _: lifecycle.remaining(r),
    ),
    Column(
        "due_on",
        "Date prévue",
        "date d'échéance prévue",
        "date",
        lambda r, _: r["expected_on"],
    ),
    Column(
        "requested_on",
        "Date de demande",
        "date de la demande de versement (subventions)",
        "date",
        lambda r, _: r["requested_on"],
    ),
    Column(
        "paid_on",
        "Date de versement",
        "date du dernier versement",
        "date",
        lambda r, _: r["last_paid_on"],
    ),
    Column(
        "status",
        "Statut",
        "Prévu, Exigible / Dû, Demandé, Versé en partie / Payé en partie, Versé / Payé",
        "text",
        lambda r, _: LineStatus(r["status"]).label(r["kind"]),
    ),
    Column(
        "late",
        "En retard",
        "oui si la date attendue est passée sans paiement complet",
        "text",
        lambda r, day: "oui" if lifecycle.is_late(r, day) else "non",
    ),
    Column(
        "reference",
        "Référence de paiement",
        "références des versements, séparées par des virgules",
        "text",
        lambda r, _: r["payment_references"],
    ),
)
BY_KEY = {c.key: c for c in COLUMNS}
DEFAULT_KEYS = (
    "consortium",
    "convention",
    "payer",
    "beneficiary",
    "siret",
    "number",
    "amount_due",
    "amount_paid",
    "due_on",
    "paid_on",
    "status",
    "reference",
)


@dataclasses.dataclass(frozen=True)
class Chosen:
    key: str
    label: str


def default_choice() -> list[Chosen]:
    return [Chosen(k, BY_KEY[k].label) for k in DEFAULT_KEYS]


def check_choice(chosen: Sequence[Chosen]) -> list[Chosen]:
    if not chosen:
        raise FieldError("Choisissez au moins une colonne.", "columns")
    seen: set[str] = set()
    for column in chosen:
        if column.key not in BY_KEY:
            raise FieldError(f"Colonne inconnue : {column.key}.", "columns")
        label = column.label.strip()
        if not label:
            raise FieldError(
                f"Donnez un titre à la colonne « {BY_KEY[column.key].label} ».",
                f"label-{column.key}",
            )
        if label.casefold() in seen:
            raise FieldError(f"Deux colonnes s'appellent « {label} ».", f"label-{column.key}")
        seen.add(label.casefold())
    return list(chosen)


# Cell values ---------------------------------------------------------------------------------


def typed(kind: str, value: Any) -> Any:
    """A column's value as the spreadsheet should hold it: amounts as Decimal euros (never
    float money), dates as dates, text as text (which `core.spreadsheets` keeps from being
    read as a formula)."""
    if value is None:
        return None
    if kind == "amount":
        return (Decimal(int(value)) / 100).quantize(Decimal("0.01"))
    if kind in ("date", "number"):
        return value
    return str(value)


class _CsvWriter:
    def __init__(self, handle: TextIO, chosen: Sequence[Chosen]) -> None:
        self.sheet = CsvSheet(handle)
        self.chosen = chosen
        self.sheet.append([c.label for c in chosen])

    def rows(self, rows: Sequence[Row], day: dt.date) -> None:
        for row in rows:
            self.sheet.append(
                [typed(BY_KEY[c.key].kind, BY_KEY[c.key].value(row, day)) for c in self.chosen]
            )


class _XlsxWriter:
    def __init__(self, sheet: WriteOnlyWorksheet, chosen: Sequence[Chosen]) -> None:
        self.sheet = XlsxSheet(sheet)
        self.chosen = chosen
        self.sheet.append([self.sheet.cell(c.label, bold=True) for c in chosen])

    def _cell(self, kind: str, value: Any) -> Any:
        value = typed(kind, value)
        if value is None:
            return None
        # openpyxl writes a Decimal as a number (its stubs only say float).
        if kind == "amount":
            return self.sheet.cell(value, number_format=AMOUNT_FORMAT)
        if kind == "date":
            return self.sheet.cell(value, number_format=DATE_FORMAT)
        return value

    def rows(self, rows: Sequence[Row], day: dt.date) -> None:
        for row in rows:
            self.sheet.append(
                [self._cell(BY_KEY[c.key].kind, BY_KEY[c.key].value(row, day)) for c in self.chosen]
            )


# Requesting, running, downloading -------------------------------------------------------------


def _filters(found: LineFilter) -> dict[str, Any]:
    return {
        "convention": str(found.convention) if found.convention else None,
        "kind": found.kind,
        "statuses": list(found.statuses),
        "organisation": str(found.organisation) if found.organisation else None,
        "expected_from": found.expected_from.isoformat() if found.expected_from else None,
        "expected_to": found.expected_to.isoformat() if found.expected_to else None,
    }


def _filter_of(values: dict[str, Any]) -> LineFilter:
    def day(key: str) -> dt.date | None:
        return dt.date.fromisoformat(values[key]) if values.get(key) else None

    return LineFilter(
        convention=uuid.UUID(values["convention"]) if values.get("convention") else None,
        kind=values.get("kind") or None,
        statuses=tuple(values.get("statuses") or ()),
        organisation=uuid.UUID(values["organisation"]) if values.get("organisation") else None,
        expected_from=day("expected_from"),
        expected_to=day("expected_to"),
    )


async def request_export(
    actor: Actor,
    ctx: TenantContext,
    user: CurrentUser,
    chosen: Sequence[Chosen],
    fmt: ExportFormat,
    found: LineFilter,
) -> uuid.UUID:
    chosen = check_choice(chosen)
    stamp = clock.today().isoformat()
    async with transaction():
        export_id = await repository.insert_export(
            ctx,
            {
                "requested_by": user.id,
                "requested_by_name": user.full_name,
                "role": ctx.role,
                "organisation": ctx.organisation_id,
                "format": fmt.value,
                "columns": [dataclasses.asdict(c) for c in chosen],
                "filters": _filters(found),
                "filename": f"suivi-versements-{ctx.slug}-{stamp}.{fmt.value}",
                "status": ExportStatus.PENDING.value,
            },
        )
        await audit.record_action(
            AuditTag.PAYMENT_EXPORT_REQUESTED,
            actor,
            ctx,
            subject=f"payments-export:{export_id}",
            format=fmt.value,
            columns=[c.key for c in chosen],
        )
        job_id = await jobs.enqueue_export(ctx, export_id)
        await repository.update_export(ctx, export_id, {"job_id": job_id})
    return export_id


def storage_key(scope: TenantScope, export_id: uuid.UUID, fmt: ExportFormat) -> str:
    """A new key at each attempt: the sweep settling an abandoned attempt never touches the
    file of a later one."""
    return f"exports/{scope.consortium_id}/{export_id}-{secrets.token_hex(4)}.{fmt.value}"


async def run(scope: TenantScope, export_id: uuid.UUID) -> None:
    """The job: idempotent (a finished export is left alone; an interrupted one starts again
    from the first row and overwrites its file). A failure is written on the export and raised:
    the job layer retries, and the export's page says when (`progress`)."""
    row = await repository.export(scope, export_id)
    if row is None or row["status"] == ExportStatus.DONE:
        return
    try:
        await _build(scope, row)
    except Exception as exc:
        # The job layer logs the failure and when it runs again; this records it on the export.
        with contextlib.suppress(Exception):  # the database may be the thing that failed
            await repository.update_export(
                scope,
                export_id,
                {
                    "status": ExportStatus.FAILED.value,
                    "error": _failure_message(exc),
                },
            )
        raise


def _failure_message(exc: Exception) -> str:
    if isinstance(exc, Unavailable):
        return f"{exc.message} L'export sera relancé automatiquement."
    return "L'export a échoué ; il sera relancé automatiquement."


async def _build(scope: TenantScope, row: Row) -> None:
    export_id = row["id"]
    fmt = ExportFormat(row["format"])
    chosen = [Chosen(c["key"], c["label"]) for c in row["columns"]]
    view = await access.sight(scope, row["role"], row["organisation"])
    found = _filter_of(row["filters"] or {})
    total = await repository.count_lines(scope, view, found)
    await repository.update_export(
        scope,
        export_id,
        {"status": ExportStatus.RUNNING.value, "total_rows": total, "done_rows": 0, "error": ""},
    )
    name = await _consortium_name(scope)
    day = clock.today()
    with spool.temporary_directory() as tmp:
        path = tmp / f"export.{fmt.value}"
        try:
            done = await _write(scope, view, found, fmt, chosen, path, name, day, export_id)
        except OSError as exc:
            raise spool.unavailable(exc, path) from exc
        key = storage_key(scope, export_id, fmt)
        size = (await anyio.Path(path).stat()).st_size
        async with objects.stored(
            key,
            path,
            CONTENT_TYPES[fmt].split(";")[0],
            owner=OWNER,
            consortium_id=scope.consortium_id,
        ) as stored:
            async with transaction():
                await repository.update_export(
                    scope,
                    export_id,
                    {
                        "status": ExportStatus.DONE.value,
                        "done_rows": done,
                        "storage_key": key,
                        "size": size,
                        "error": "",
                        "finished_at": clock.now(),
                    },
                )
                await stored.confirm()


async def _write(
    scope: TenantScope,
    view: access.Sight,
    found: LineFilter,
    fmt: ExportFormat,
    chosen: Sequence[Chosen],
    path: Path,
    consortium_name: str,
    day: dt.date,
    export_id: uuid.UUID | None,
) -> int:
    """Streams the rows from a cursor into `path`; returns how many were written."""
    done = 0
    handle: TextIO | None = None
    book: Workbook | None = None
    writer: _CsvWriter | _XlsxWriter
    if fmt is ExportFormat.CSV:
        handle = path.open("w", encoding="utf-8-sig", newline="")
        writer = _CsvWriter(handle, chosen)
    else:
        from openpyxl import Workbook  # with the first XLSX, not at start (0.2 s)

        book = Workbook(write_only=True)
        writer = _XlsxWriter(book.create_sheet("Suivi des versements"), chosen)
    try:
        async for rows in stream(repository.export_query(scope, view, found), BATCH):
            for r in rows:
                r["consortium"] = consortium_name
            await anyio.to_thread.run_sync(writer.rows, rows, day)
            done += len(rows)
            if export_id is not None:
                await repository.update_export(scope, export_id, {"done_rows": done})
    finally:
        if handle is not None:
            handle.close()
    if book is not None:
        await anyio.to_thread.run_sync(book.save, str(path))
    return done


async def write_to(
    scope: TenantScope,
    view: access.Sight,
    found: LineFilter,
    fmt: ExportFormat,
    chosen: Sequence[Chosen],
    path: Path,
) -> int:
    """The same writing, straight to a file (benchmarks, operators)."""
    name = await _consortium_name(scope)
    return await _write(scope, view, found, fmt, chosen, path, name, clock.today(), None)


async def _consortium_name(scope: TenantScope) -> str:
    found = await tenants.scope_and_consortium(scope.consortium_id)
    return str(found[1]["name"]) if found else ""


async def export_of(ctx: TenantContext, export_id: uuid.UUID) -> Row:
    """An export is its requester's alone (it holds what they could see); with its `progress`."""
    row = await repository.export(ctx, export_id)
    if row is None or row["requested_by"] != ctx.user_id:
        raise LookupError(export_id)
    return (await _with_progress([row]))[0]


async def recent(ctx: TenantContext) -> list[Row]:
    return await _with_progress(await repository.exports_of(ctx, ctx.user_id))


async def _with_progress(rows: list[Row]) -> list[Row]:
    """`progress`: what the person sees of the export's state, from the export and its job:
    a failure the job will retry reads « nouvelle tentative à HH:MM »."""
    schedule = await job_service.schedule_of([r["job_id"] for r in rows if r.get("job_id")])
    at = clock.now()
    for row in rows:
        status = ExportStatus(row["status"])
        job = schedule.get(row["job_id"]) if row.get("job_id") else None
        if (
            status != ExportStatus.DONE
            and job is not None
            and job["status"] in ("pending", "queued")
            and job["last_error"]
            and job["run_after"] > at
        ):
            row["progress"] = f"Nouvelle tentative à {job['run_after'].astimezone(PARIS):%H:%M}"
            row["final"] = False
        elif status == ExportStatus.FAILED and (job is None or job["status"] == "failed"):
            row["progress"] = "Échec"
            row["error"] = "L'export a échoué plusieurs fois : relancez-le, ou prévenez l'équipe."
            row["final"] = True
        elif status == ExportStatus.FAILED:
            row["progress"] = "Nouvelle tentative imminente"
            row["final"] = False
        else:
            row["progress"] = status.label
            row["final"] = status == ExportStatus.DONE
    return rows


async def open_file(row: Row) -> AsyncIterator[bytes]:
    """The export's file; raises before any byte when storage lost it or does not answer."""
    return await get_storage().open(row["storage_key"])


async def downloaded(actor: Actor, ctx: TenantContext, row: Row) -> None:
    await audit.record_action(
        AuditTag.PAYMENT_EXPORT_DOWNLOADED,
        actor,
        ctx,
        subject=f"payments-export:{row['id']}",
    )


async def remove_old(at: dt.datetime) -> int:
    """Files of exports finished more than `KEPT_FOR` ago are removed from storage: they hold
    financial data and are rebuilt in seconds. Idempotent."""
    removed = 0
    for row in await repository.exports_to_remove(at - KEPT_FOR):
        scope = TenantScope.for_platform(
            row["consortium"], reason="the housekeeping removes old exports in every consortium"
        )
        async with units.unit("exports anciens", consortium=scope.consortium_id, export=row["id"]):
            await objects.remove(row["storage_key"])
            await repository.update_export(scope, row["id"], {"storage_key": None})
            removed += 1
    return removed


# Export models -------------------------------------------------------------------------------
# A model is its owner's: only they replace or delete it. Until a pilot shares it with the
# consortium, only they and the pilots (who decide what is shared) see it. Names are unique in
# the consortium, so saving under a taken name asks for another one.


class OwnModelNamed(FieldError):
    """The saver already has a model of that name: replacing it needs their confirmation."""


def _sees_all(ctx: TenantContext) -> bool:
    """Who decides what is shared sees every model, so as to share it."""
    return allows(ctx.role, Permission.PAYMENTS_SHARE_MODELS)


async def models(ctx: TenantContext) -> list[Row]:
    return await repository.export_models(ctx, ctx.user_id, _sees_all(ctx))


async def save_model(
    actor: Actor,
    ctx: TenantContext,
    user: CurrentUser,
    name: str,
    chosen: Sequence[Chosen],
    fmt: ExportFormat,
    *,
    replace: bool = False,
) -> uuid.UUID:
    """Creates the model, or replaces the saver's own model of that name when `replace`."""
    name = name.strip()[:100]
    if len(name) < 2:
        raise FieldError("Donnez un nom au modèle (2 caractères au moins).", "model_name")
    chosen = check_choice(chosen)
    values = {"columns": [dataclasses.asdict(c) for c in chosen], "format": fmt.value}
    try:
        return await _save_model(actor, ctx, user, name, values, replace)
    except Exception as exc:
        if not unique_violation(exc):
            raise
        # Someone saved the same name between our check and our insert.
        raise FieldError(_NAME_TAKEN.format(name=name), "model_name") from exc


_NAME_TAKEN = "Le nom « {name} » est déjà pris par un autre modèle : choisissez-en un autre."


async def _save_model(
    actor: Actor,
    ctx: TenantContext,
    user: CurrentUser,
    name: str,
    values: dict[str, Any],
    replace: bool,
) -> uuid.UUID:
    async with transaction():
        found = await repository.export_model_named(ctx, name)
        if found is not None and found["created_by"] != user.id:
            raise FieldError(_NAME_TAKEN.format(name=name), "model_name")
        if found is not None and found["shared"] and not _sees_all(ctx):
            # What the consortium sees is published by a pilot: a change is too.
            raise FieldError(
                f"Votre modèle « {name} » est partagé avec le consortium : seul un pilote peut "
                "le modifier. Choisissez un autre nom.",
                "model_name",
            )
        if found is not None and not replace:
            raise OwnModelNamed(
                f"Vous avez déjà un modèle « {name} ». Cochez « Remplacer mon modèle » pour le "
                "remplacer par ces colonnes, ou choisissez un autre nom.",
                "model_name",
            )
        if found is None:
            model_id = await repository.insert_export_model(
                ctx,
                {
                    "name": name,
                    **values,
                    "created_by": user.id,
                    "created_by_name": user.full_name,
                },
            )
        else:
            model_id = uuid.UUID(str(found["id"]))
            await repository.replace_export_model(ctx, model_id, user.id, values)
        await audit.record_action(
            AuditTag.PAYMENT_EXPORT_MODEL_SAVED,
            actor,
            ctx,
            subject=f"payments-export-model:{model_id}",
            name=name,
            columns=values["columns"],
            replaced=found is not None,
        )
    return model_id


async def model(ctx: TenantContext, model_id: uuid.UUID) -> Row:
    row = await repository.export_model(ctx, model_id, ctx.user_id, _sees_all(ctx))
    if row is None:
        raise LookupError(model_id)
    return row


async def share_model(
    actor: Actor,
    ctx: TenantContext,
    model_id: uuid.UUID,
    shared: bool,
) -> str:
    """A pilot shares a model with the whole consortium, or stops sharing it; its name."""
    if not _sees_all(ctx):
        raise PermissionError(model_id)
    found = await model(ctx, model_id)
    async with transaction():
        await repository.share_export_model(ctx, model_id, shared)
        await audit.record_action(
            AuditTag.PAYMENT_EXPORT_MODEL_SHARED
            if shared
            else AuditTag.PAYMENT_EXPORT_MODEL_UNSHARED,
            actor,
            ctx,
            subject=f"payments-export-model:{model_id}",
            name=found["name"],
        )
    return str(found["name"])


async def delete_model(
    actor: Actor, ctx: TenantContext, user: CurrentUser, model_id: uuid.UUID
) -> str:
    """By whoever saved it only; returns its name."""
    found = await model(ctx, model_id)
    if found["created_by"] != user.id:
        raise PermissionError(model_id)
    async with transaction():
        await repository.delete_export_model(ctx, model_id, user.id)
        await audit.record_action(
            AuditTag.PAYMENT_EXPORT_MODEL_DELETED,
            actor,
            ctx,
            subject=f"payments-export-model:{model_id}",
            name=found["name"],
            columns=found["columns"],
        )
    return str(found["name"])
