"""Exports of payment lines: choosing columns and format, saved models (own or shared), the
export's page and its file."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from portal.conventions import service as conventions
from portal.core.actor import Actor
from portal.core.forms import FieldError, checkbox, read_form, text
from portal.core.permissions import Permission, allows, requires
from portal.core.responses import path_uuid, see_other
from portal.core.storage import quote_filename
from portal.core.templating import flash, render
from portal.payments import exports, forms, pages
from portal.payments.enums import ExportFormat, ExportStatus, LineStatus, ScheduleKind


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
                Actor.of_request(request),
                ctx,
                user,
                name,
                chosen,
                fmt,
                replace=checkbox(form, "replace"),
            )
            return flash(see_other(f"{pages.base(request)}/exports"), "Modèle d'export enregistré.")
        found, _ = forms.line_filter(form)
        export_id = await exports.request_export(
            Actor.of_request(request), ctx, user, chosen, fmt, found
        )
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
    return see_other(f"{pages.base(request)}/exports/{export_id}")


@requires(Permission.PAYMENTS_SHARE_MODELS)
async def export_model_share(request: Request) -> Response:
    ctx = request.state.tenant
    shared = checkbox(await read_form(request), "shared")
    try:
        name = await exports.share_model(
            Actor.of_request(request), ctx, path_uuid(request, "model_id"), shared
        )
    except LookupError as exc:
        raise HTTPException(404) from exc
    except PermissionError as exc:
        raise HTTPException(403) from exc
    done = "est partagé avec le consortium" if shared else "n'est plus partagé"
    return flash(see_other(f"{pages.base(request)}/exports"), f"Le modèle « {name} » {done}.")


@requires(Permission.PAYMENTS_VIEW)
async def export_model_delete(request: Request) -> Response:
    ctx, user = request.state.tenant, request.state.user
    try:
        name = await exports.delete_model(
            Actor.of_request(request), ctx, user, path_uuid(request, "model_id")
        )
    except LookupError as exc:
        raise HTTPException(404) from exc
    except PermissionError as exc:
        raise HTTPException(403) from exc
    return flash(see_other(f"{pages.base(request)}/exports"), f"Modèle « {name} » supprimé.")


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
    ctx = request.state.tenant
    try:
        row = await exports.export_of(ctx, path_uuid(request, "export_id"))
    except LookupError as exc:
        raise HTTPException(404) from exc
    if row["status"] != ExportStatus.DONE or not row["storage_key"]:
        raise HTTPException(404)
    fmt = ExportFormat(row["format"])
    chunks = await exports.open_file(row)
    await exports.downloaded(Actor.of_request(request), ctx, row)
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
