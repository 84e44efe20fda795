"""Payments of a consortium (under `/c/{slug}/versements`): the lines (échéances) and their
filters, schedules, one line with its payments and history, reconciliation, exports and the
statement of an organisation. Routes parse, call one service, render or redirect."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from portal.conventions import service as conventions
from portal.conventions.enums import Funder
from portal.core.forms import (
    FieldError,
    checkbox,
    is_digits,
    read_date,
    read_form,
    redisplay,
    submit,
    text,
)
from portal.core.permissions import Permission, allows, requires
from portal.core.responses import path_uuid, see_other
from portal.core.storage import quote_filename
from portal.core.templating import flash, render
from portal.documents import service as documents
from portal.payments import (
    access,
    exports,
    forms,
    reconciliation,
    repository,
    schedules,
    service,
    statement,
)
from portal.payments.enums import (
    Basis,
    ExportFormat,
    ExportStatus,
    LineStatus,
    ScheduleKind,
    Trigger,
)
from portal.payments.repository import LineFilter
from portal.tenants import service as tenants


def _base(request: Request) -> str:
    return f"/c/{request.state.tenant.slug}/versements"


def _can(request: Request):  # type: ignore[no-untyped-def]
    role = request.state.tenant.role
    return lambda p: allows(role, Permission(p))


# The lines ----------------------------------------------------------------------------------


@requires(Permission.PAYMENTS_VIEW)
async def payment_list(request: Request) -> Response:
    ctx = request.state.tenant
    found, values = forms.line_filter(request.query_params)
    lines = await service.visible_lines(ctx, found)
    view = await access.sight_of(ctx)
    seen = await repository.schedules(ctx, view)
    statements = {
        s["beneficiary"]: s["beneficiary_name"]
        for s in seen
        if s["kind"] == ScheduleKind.REPAYMENT and access.may_open_statement(view, s["beneficiary"])
    }
    return await render(
        request,
        "payments/list.html",
        {
            "lines": lines,
            "values": values,
            "conventions": await conventions.signed_conventions(ctx),
            "organisations": await tenants.organisations(ctx),
            "statuses": list(LineStatus),
            "kinds": list(ScheduleKind),
            "schedules": seen,
            "statements": sorted(statements.items(), key=lambda item: item[1]),
            "late": sum(1 for line in lines if line["late"]),
            "can": _can(request),
        },
    )


# Schedules ----------------------------------------------------------------------------------


async def _options(request: Request, convention_id: uuid.UUID) -> dict[str, Any]:
    ctx = request.state.tenant
    all_lines = await repository.lines(ctx, service.EVERYTHING, LineFilter(kind="subsidy"))
    return {
        "organisations": await tenants.organisations(ctx),
        "parties": await conventions.parties_of(ctx, convention_id),
        "documents": await documents.items_of(ctx),
        "subsidy_lines": all_lines,
        "subsidies": [
            s
            for s in await repository.schedules(ctx, service.EVERYTHING)
            if s["kind"] == ScheduleKind.SUBSIDY
        ],
        "funders": list(Funder),
        "bases": list(Basis),
        "triggers": list(Trigger),
    }


async def _schedule_form(
    request: Request,
    draft: schedules.ScheduleDraft | None,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    schedule: dict[str, Any] | None = None,
    convention: dict[str, Any],
    status_code: int = 200,
) -> Response:
    return await render(
        request,
        "payments/schedule_form.html",
        {
            "draft": draft,
            "errors": errors or {},
            "values": values or {},
            "schedule": schedule,
            "convention": convention,
            "spare": 2,
            **await _options(request, convention["id"]),
        },
        status_code=status_code if errors else 200,
    )


@requires(Permission.PAYMENTS_MANAGE)
async def schedule_new(request: Request) -> Response:
    ctx = request.state.tenant
    params = request.query_params
    convention_id = forms.parse_uuid(params.get("convention", ""))
    try:
        kind = ScheduleKind(params.get("type", ""))
    except ValueError:
        kind = None
    if convention_id is None or kind is None:
        return await render(
            request,
            "payments/schedule_start.html",
            {
                "conventions": await conventions.signed_conventions(ctx),
                "organisations": await tenants.organisations(ctx),
                "errors": {},
            },
        )
    try:
        draft = await schedules.proposal(
            ctx, convention_id, kind, forms.parse_uuid(params.get("beneficiaire", ""))
        )
        convention = await schedules.signed_convention(ctx, convention_id)
    except LookupError as exc:
        raise HTTPException(404) from exc
    except FieldError as exc:
        return await render(
            request,
            "payments/schedule_start.html",
            {
                "conventions": await conventions.signed_conventions(ctx),
                "organisations": await tenants.organisations(ctx),
                "errors": {exc.field or "convention": exc.message},
            },
            status_code=400,
        )
    return await _schedule_form(request, draft, convention=convention)


@requires(Permission.PAYMENTS_MANAGE)
async def schedule_create(request: Request) -> Response:
    ctx, user = request.state.tenant, request.state.user
    form = await read_form(request)
    convention_id = forms.parse_uuid(text(form, "convention", 40))
    try:
        kind = ScheduleKind(text(form, "kind", 16))
        if convention_id is None:
            raise LookupError("convention")
        convention = await schedules.signed_convention(ctx, convention_id)
    except (ValueError, LookupError) as exc:
        raise HTTPException(404) from exc
    except FieldError as exc:
        raise HTTPException(400, exc.message) from exc
    result = forms.schedule_form(form, kind, convention_id)
    created = await submit(
        result,
        lambda: schedules.create(request, ctx, user, result.values["draft"]),
        "lines",
    )
    if created is None:
        return await _schedule_form(
            request,
            None,
            errors=result.errors,
            values=result.values,
            convention=convention,
            status_code=400,
        )
    return flash(see_other(f"{_base(request)}/echeanciers/{created}"), "Échéancier enregistré.")


@requires(Permission.PAYMENTS_VIEW)
async def schedule_show(request: Request) -> Response:
    try:
        detail = await service.schedule_detail(
            request.state.tenant, path_uuid(request, "schedule_id")
        )
    except LookupError as exc:
        raise HTTPException(404) from exc
    return await render(request, "payments/schedule.html", {"d": detail, "can": _can(request)})


async def _editable(request: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ctx = request.state.tenant
    schedule = await repository.schedule(ctx, path_uuid(request, "schedule_id"))
    if schedule is None:
        raise HTTPException(404)
    lines = await repository.lines(ctx, service.EVERYTHING, LineFilter(schedule=schedule["id"]))
    return schedule, lines


@requires(Permission.PAYMENTS_MANAGE)
async def schedule_edit(request: Request) -> Response:
    ctx = request.state.tenant
    schedule, lines = await _editable(request)
    convention = await conventions.convention_of(ctx, schedule["convention"])
    assert convention is not None
    if request.method == "GET":
        return await _schedule_form(
            request,
            schedules.draft_of(schedule, lines),
            schedule={**schedule, "lines": lines},
            convention=convention,
        )
    form = await read_form(request)
    result = forms.schedule_form(form, ScheduleKind(schedule["kind"]), schedule["convention"])
    revision = text(form, "revision", 10)
    await submit(
        result,
        lambda: schedules.update(
            request,
            ctx,
            request.state.user,
            schedule["id"],
            result.values["draft"],
            int(revision) if is_digits(revision) else 0,
        ),
        "lines",
    )
    if not result.ok:  # the form, or the service, refused it
        return await _schedule_form(
            request,
            None,
            errors=result.errors,
            values=result.values,
            schedule={**schedule, "lines": lines},
            convention=convention,
            status_code=409 if "revision" in result.errors else 400,
        )
    return flash(see_other(f"{_base(request)}/echeanciers/{schedule['id']}"), "Échéancier modifié.")


# One line -----------------------------------------------------------------------------------


async def _line_page(
    request: Request,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    warnings: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    try:
        detail = await service.line_detail(request.state.tenant, path_uuid(request, "line_id"))
    except LookupError as exc:
        raise HTTPException(404) from exc
    return await render(
        request,
        "payments/line.html",
        {
            "d": detail,
            "errors": errors or {},
            "values": values or {},
            "warnings": warnings or [],
            "can": _can(request),
        },
        status_code=status_code if (errors or warnings) else 200,
    )


@requires(Permission.PAYMENTS_VIEW)
async def line_show(request: Request) -> Response:
    return await _line_page(request)


def _line_url(request: Request) -> str:
    return f"{_base(request)}/lignes/{request.path_params['line_id']}"


@requires(Permission.PAYMENTS_MANAGE)
async def payment_record(request: Request) -> Response:
    ctx, user = request.state.tenant, request.state.user
    result = forms.payment_form(await read_form(request))
    values = result.values
    try:
        if not result.ok:
            return await _line_page(request, result.errors, values, status_code=400)
        warnings = await service.record_payment(
            request,
            ctx,
            user,
            path_uuid(request, "line_id"),
            amount_cents=values["amount_cents"],
            paid_on=values["day"],
            reference=values["reference"],
            confirmed=values["confirm"],
            reason=values["reason"],
        )
    except service.NeedsConfirmation as exc:
        return await _line_page(request, {}, values, exc.details, status_code=409)
    except FieldError as exc:
        return await _line_page(
            request, {exc.field or "amount": exc.message}, values, status_code=400
        )
    except LookupError as exc:
        raise HTTPException(404) from exc
    message = "Versement enregistré."
    if warnings:
        message += " Le motif de confirmation est conservé avec le versement."
    return flash(see_other(_line_url(request)), message)


async def _line_action(request: Request, action: Any, done: str, field: str) -> Response:
    form = await read_form(request)
    try:
        await action(form)
    except FieldError as exc:
        values = redisplay(form)
        return await _line_page(request, {exc.field or field: exc.message}, values, status_code=400)
    except LookupError as exc:
        raise HTTPException(404) from exc
    except PermissionError as exc:
        raise HTTPException(403) from exc
    return flash(see_other(_line_url(request)), done)


@requires(Permission.PAYMENTS_MANAGE)
async def request_record(request: Request) -> Response:
    ctx, user = request.state.tenant, request.state.user

    async def act(form: Any) -> None:
        await service.record_request(
            request,
            ctx,
            user,
            path_uuid(request, "line_id"),
            read_date(text(form, "requested_on", 20)),
            text(form, "request_reference", 120),
        )

    return await _line_action(request, act, "Demande de versement enregistrée.", "requested_on")


@requires(Permission.PAYMENTS_MANAGE)
async def condition_met(request: Request) -> Response:
    ctx, user = request.state.tenant, request.state.user

    async def act(form: Any) -> None:
        await service.mark_met(
            request, ctx, user, path_uuid(request, "line_id"), text(form, "note", 2000)
        )

    return await _line_action(request, act, "Condition constatée : l'échéance est payable.", "note")


@requires(Permission.PAYMENTS_DECLARE)
async def declaration(request: Request) -> Response:
    ctx, user = request.state.tenant, request.state.user
    line_id = path_uuid(request, "line_id")

    async def act(form: Any) -> None:
        line = await repository.line(ctx, line_id)
        if line is None:
            raise LookupError(line_id)
        result = forms.declaration_form(form, Basis(line["basis"]))
        if not result.ok:
            field, message = next(iter(result.errors.items()))
            raise FieldError(message, field)
        await service.declare(
            request,
            ctx,
            user,
            line_id,
            quantity=result.values.get("count"),
            justified_cents=result.values.get("cents"),
        )

    return await _line_action(request, act, "Déclaration enregistrée.", "quantity")


@requires(Permission.PAYMENTS_MANAGE)
async def payment_cancel(request: Request) -> Response:
    ctx, user = request.state.tenant, request.state.user

    async def act(form: Any) -> None:
        await service.cancel_payment(
            request,
            ctx,
            user,
            path_uuid(request, "line_id"),
            path_uuid(request, "payment_id"),
            text(form, "cancel_reason", 2000),
        )

    return await _line_action(
        request, act, "Versement annulé ; il reste dans l'historique.", "cancel_reason"
    )


# Reconciliation, statement ------------------------------------------------------------------


@requires(Permission.PAYMENTS_VIEW)
async def reconciliation_page(request: Request) -> Response:
    ctx = request.state.tenant
    period = reconciliation.parse_period(request.query_params.get("periode", ""))
    found = await reconciliation.reconcile(ctx, period)
    view = await access.sight_of(ctx)
    return await render(
        request,
        "payments/reconciliation.html",
        {
            "r": found,
            "total": reconciliation.totals(found.conventions),
            "statement_opens": lambda organisation_id: access.may_open_statement(
                view, organisation_id
            ),
        },
    )


@requires(Permission.PAYMENTS_VIEW)
async def statement_pdf(request: Request) -> Response:
    ctx = request.state.tenant
    try:
        found = await statement.statement(ctx, path_uuid(request, "organisation_id"))
    except LookupError as exc:
        raise HTTPException(404) from exc
    data = await statement.pdf(found, ctx.name)
    name = f"releve-versements-{found.organisation['siret']}.pdf"
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "content-disposition": f"attachment; filename*=UTF-8''{quote_filename(name)}",
            "cache-control": "private, no-store",
        },
    )


# Exports -------------------------------------------------------------------------------------


async def _exports_page(
    request: Request,
    errors: dict[str, str] | None = None,
    chosen: list[exports.Chosen] | None = None,
    fmt: ExportFormat = ExportFormat.CSV,
    status_code: int = 200,
    *,
    model_name: str | None = None,
    offer_replace: bool = False,
) -> Response:
    ctx = request.state.tenant
    models = await exports.models(ctx)
    selected = forms.parse_uuid(request.query_params.get("modele", ""))
    model = next((m for m in models if m["id"] == selected), None)
    if chosen is None:
        chosen = forms.chosen_of(model) if model else exports.default_choice()
        fmt = ExportFormat(model["format"]) if model else fmt
    _, values = forms.line_filter(request.query_params)
    positions = {c.key: n for n, c in enumerate(chosen, 1)}
    labels = {c.key: c.label for c in chosen}
    return await render(
        request,
        "payments/exports.html",
        {
            "columns": exports.COLUMNS,
            "positions": positions,
            "labels": labels,
            "format": fmt.value,
            "models": models,
            "model": model,
            "model_name": (model["name"] if model else "") if model_name is None else model_name,
            "offer_replace": offer_replace,
            "can_share": allows(ctx.role, Permission.PAYMENTS_SHARE_MODELS),
            "recent": await exports.recent(ctx),
            "errors": errors or {},
            "values": values,
            "conventions": await conventions.signed_conventions(ctx),
            "statuses": list(LineStatus),
            "kinds": list(ScheduleKind),
        },
        status_code=status_code if errors else 200,
    )


@requires(Permission.PAYMENTS_VIEW)
async def exports_page(request: Request) -> Response:
    return await _exports_page(request)


@requires(Permission.PAYMENTS_VIEW)
async def export_request(request: Request) -> Response:
    ctx, user = request.state.tenant, request.state.user
    form = await read_form(request)
    chosen, errors = forms.export_choice(form)
    fmt = forms.export_format(form)
    if errors:
        return await _exports_page(request, errors, chosen, fmt, 400)
    name = text(form, "model_name", 100)
    try:
        if text(form, "action", 20) == "model":
            await exports.save_model(
                request, ctx, user, name, chosen, fmt, replace=checkbox(form, "replace")
            )
            return flash(see_other(f"{_base(request)}/exports"), "Modèle d'export enregistré.")
        found, _ = forms.line_filter(form)
        export_id = await exports.request_export(request, ctx, user, chosen, fmt, found)
    except FieldError as exc:
        return await _exports_page(
            request,
            {exc.field or "columns": exc.message},
            chosen,
            fmt,
            400,
            model_name=name,
            offer_replace=isinstance(exc, exports.OwnModelNamed),
        )
    return see_other(f"{_base(request)}/exports/{export_id}")


@requires(Permission.PAYMENTS_SHARE_MODELS)
async def export_model_share(request: Request) -> Response:
    ctx, user = request.state.tenant, request.state.user
    shared = checkbox(await read_form(request), "shared")
    try:
        name = await exports.share_model(
            request, ctx, user, path_uuid(request, "model_id"), shared
        )
    except LookupError as exc:
        raise HTTPException(404) from exc
    except PermissionError as exc:
        raise HTTPException(403) from exc
    done = "est partagé avec le consortium" if shared else "n'est plus partagé"
    return flash(see_other(f"{_base(request)}/exports"), f"Le modèle « {name} » {done}.")


@requires(Permission.PAYMENTS_VIEW)
async def export_model_delete(request: Request) -> Response:
    ctx, user = request.state.tenant, request.state.user
    try:
        name = await exports.delete_model(request, ctx, user, path_uuid(request, "model_id"))
    except LookupError as exc:
        raise HTTPException(404) from exc
    except PermissionError as exc:
        raise HTTPException(403) from exc
    return flash(see_other(f"{_base(request)}/exports"), f"Modèle « {name} » supprimé.")


@requires(Permission.PAYMENTS_VIEW)
async def export_show(request: Request) -> Response:
    try:
        row = await exports.export_of(request.state.tenant, path_uuid(request, "export_id"))
    except LookupError as exc:
        raise HTTPException(404) from exc
    return await render(
        request,
        "payments/export.html",
        {"e": row, "done": row["status"] == ExportStatus.DONE},
    )


@requires(Permission.PAYMENTS_VIEW)
async def export_download(request: Request) -> Response:
    ctx, user = request.state.tenant, request.state.user
    try:
        row = await exports.export_of(ctx, path_uuid(request, "export_id"))
    except LookupError as exc:
        raise HTTPException(404) from exc
    if row["status"] != ExportStatus.DONE or not row["storage_key"]:
        raise HTTPException(404)
    fmt = ExportFormat(row["format"])
    chunks = await exports.open_file(row)
    await exports.downloaded(request, ctx, user, row)
    return StreamingResponse(
        chunks,
        media_type=exports.CONTENT_TYPES[fmt],
        headers={
            "content-disposition": "attachment; filename*=UTF-8''"
            + quote_filename(row["filename"]),
            "content-length": str(row["size"]),
            "cache-control": "private, no-store",
        },
    )


routes = [
    Route("/versements", payment_list, methods=["GET"], name="payment_list"),
    Route("/versements/nouveau", schedule_new, methods=["GET"], name="payment_schedule_new"),
    Route("/versements/nouveau", schedule_create, methods=["POST"], name="payment_schedule_create"),
    Route(
        "/versements/echeanciers/{schedule_id}",
        schedule_show,
        methods=["GET"],
        name="payment_schedule",
    ),
    Route(
        "/versements/echeanciers/{schedule_id}/modifier",
        schedule_edit,
        methods=["GET", "POST"],
        name="payment_schedule_edit",
    ),
    Route("/versements/lignes/{line_id}", line_show, methods=["GET"], name="payment_line"),
    Route(
        "/versements/lignes/{line_id}/versement",
        payment_record,
        methods=["POST"],
        name="payment_record",
    ),
    Route(
        "/versements/lignes/{line_id}/demande",
        request_record,
        methods=["POST"],
        name="payment_request",
    ),
    Route(
        "/versements/lignes/{line_id}/condition",
        condition_met,
        methods=["POST"],
        name="payment_condition",
    ),
    Route(
        "/versements/lignes/{line_id}/declaration",
        declaration,
        methods=["POST"],
        name="payment_declaration",
    ),
    Route(
        "/versements/lignes/{line_id}/versements/{payment_id}/annulation",
        payment_cancel,
        methods=["POST"],
        name="payment_cancel",
    ),
    Route(
        "/versements/rapprochement",
        reconciliation_page,
        methods=["GET"],
        name="payment_reconciliation",
    ),
    Route(
        "/versements/releves/{organisation_id}",
        statement_pdf,
        methods=["GET"],
        name="payment_statement",
    ),
    Route("/versements/exports", exports_page, methods=["GET"], name="payment_exports"),
    Route("/versements/exports", export_request, methods=["POST"], name="payment_export_request"),
    Route(
        "/versements/exports/modeles/{model_id}/suppression",
        export_model_delete,
        methods=["POST"],
        name="payment_export_model_delete",
    ),
    Route(
        "/versements/exports/modeles/{model_id}/partage",
        export_model_share,
        methods=["POST"],
        name="payment_export_model_share",
    ),
    Route("/versements/exports/{export_id}", export_show, methods=["GET"], name="payment_export"),
    Route(
        "/versements/exports/{export_id}/fichier",
        export_download,
        methods=["GET"],
        name="payment_export_download",
    ),
]
