"""Requested documents of a consortium (under `/c/{slug}/`): checklist, upload, review,
download. Uploads are parsed as they stream (see `web.py`), never with `request.form()`."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from portal.core import clock
from portal.core.actor import Actor
from portal.core.forms import FieldError, read_form, submit, text
from portal.core.permissions import Permission, allows, requires
from portal.core.responses import path_uuid, see_other
from portal.core.spool import SpoolUnavailable
from portal.core.storage import quote_filename
from portal.core.templating import flash, render
from portal.documents import forms, service, web
from portal.documents.enums import Recurrence
from portal.documents.upload import UploadRefused
from portal.settings import get_settings
from portal.tenants import service as tenants


def _base(request: Request) -> str:
    return f"/c/{request.state.tenant.slug}/pieces"


def _can(request: Request):  # type: ignore[no-untyped-def]
    role = request.state.tenant.role
    return lambda p: allows(role, Permission(p))


async def _checklist(
    request: Request, errors: dict[str, str] | None = None, values: dict[str, Any] | None = None
) -> Response:
    ctx = request.state.tenant
    organisations = await tenants.organisations(ctx)
    selected = request.query_params.get("organisation", "")
    chosen = next((o for o in organisations if str(o["id"]) == selected), None)
    return await render(
        request,
        "documents/checklist.html",
        {
            "items": await service.checklist(ctx, chosen["id"] if chosen else None),
            "organisations": organisations,
            "conventions": await service.conventions_to_name(ctx),
            "chosen": chosen,
            "today": clock.today(),
            "recurrences": list(Recurrence),
            "errors": errors or {},
            "values": values or {},
            "can": _can(request),
        },
        status_code=400 if errors else 200,
    )


@requires(Permission.DOCUMENTS_VIEW)
async def checklist(request: Request) -> Response:
    return await _checklist(request)


@requires(Permission.DOCUMENTS_REQUEST)
async def request_create(request: Request) -> Response:
    result = forms.request_form(await read_form(request))
    ctx = request.state.tenant
    values = {k: v for k, v in result.values.items() if k != "raw"}
    today = clock.today()
    if (
        await submit(result, lambda: service.create_request(ctx, values, today), "organisation")
        is None
    ):
        return await _checklist(request, result.errors, result.values)
    return flash(see_other(_base(request)), f"Pièce « {values['title']} » demandée.")


async def _item_page(
    request: Request, errors: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    detail = await service.item_detail(request.state.tenant, path_uuid(request, "item_id"))
    if detail is None:
        raise HTTPException(404)
    return await render(
        request,
        "documents/item.html",
        {
            "detail": detail,
            "errors": errors or {},
            "max_mb": get_settings().upload_max_bytes // (1024 * 1024),
            "today": clock.today(),
            "can": _can(request),
        },
        status_code=status_code if errors else 200,
    )


@requires(Permission.DOCUMENTS_VIEW)
async def item_show(request: Request) -> Response:
    return await _item_page(request)


@requires(Permission.DOCUMENTS_UPLOAD)
async def version_upload(request: Request) -> Response:
    item_id = path_uuid(request, "item_id")
    settings = get_settings()
    try:
        received = await web.receive_upload(request, "file", settings.upload_max_bytes)
        if received.file is None or (received.file.size == 0 and not received.file.filename):
            if received.file:
                received.file.discard()
            raise UploadRefused("Choisissez un fichier à déposer.")
        number = await service.upload(
            Actor.of_request(request),
            request.state.tenant,
            request.state.user,
            item_id,
            received.file,
        )
    except UploadRefused as exc:
        return await _item_page(request, {exc.field: exc.message}, exc.status_code)
    except SpoolUnavailable as exc:
        return await _item_page(request, {"file": exc.message}, 503)
    except LookupError as exc:
        raise HTTPException(404) from exc
    except PermissionError as exc:
        raise HTTPException(403) from exc
    return flash(see_other(f"{_base(request)}/{item_id}"), f"Version {number} déposée.")


@requires(Permission.DOCUMENTS_VIEW)
async def version_download(request: Request) -> Response:
    try:
        found = await service.download(
            Actor.of_request(request),
            request.state.tenant,
            path_uuid(request, "item_id"),
            path_uuid(request, "version_id"),
        )
    except LookupError as exc:
        raise HTTPException(404) from exc
    if found.url:
        return RedirectResponse(found.url, status_code=303)
    assert found.chunks is not None
    return StreamingResponse(
        found.chunks,
        media_type=found.content_type,
        headers={
            "content-disposition": f"attachment; filename*=UTF-8''{quote_filename(found.filename)}",
            "content-length": str(found.size),
            "cache-control": "private, no-store",
        },
    )


@requires(Permission.DOCUMENTS_UPLOAD)
async def version_delete(request: Request) -> Response:
    item_id = path_uuid(request, "item_id")
    try:
        await service.delete_version(
            Actor.of_request(request),
            request.state.tenant,
            request.state.user,
            item_id,
            path_uuid(request, "version_id"),
        )
    except LookupError as exc:
        raise HTTPException(404) from exc
    except PermissionError as exc:
        raise HTTPException(403) from exc
    except FieldError as exc:
        return await _item_page(request, {exc.field or "versions": exc.message}, 409)
    return flash(see_other(f"{_base(request)}/{item_id}"), "Version supprimée.")


@requires(Permission.DOCUMENTS_REVIEW)
async def item_review(request: Request) -> Response:
    item_id = path_uuid(request, "item_id")
    form = await read_form(request)
    ctx, user = request.state.tenant, request.state.user
    try:
        await service.review(
            Actor.of_request(request),
            ctx,
            user,
            item_id,
            text(form, "decision"),
            text(form, "comment", 2000),
        )
    except LookupError as exc:
        raise HTTPException(404) from exc
    except PermissionError as exc:
        raise HTTPException(403) from exc
    except FieldError as exc:
        return await _item_page(request, {exc.field or "decision": exc.message}, 400)
    return flash(see_other(f"{_base(request)}/{item_id}"), "Revue enregistrée.")


routes = [
    Route("/pieces", checklist, methods=["GET"], name="document_checklist"),
    Route("/pieces", request_create, methods=["POST"], name="document_request_create"),
    Route("/pieces/{item_id}", item_show, methods=["GET"], name="document_item"),
    Route("/pieces/{item_id}/versions", version_upload, methods=["POST"], name="document_upload"),
    Route("/pieces/{item_id}/revue", item_review, methods=["POST"], name="document_review"),
    Route(
        "/pieces/{item_id}/versions/{version_id}",
        version_download,
        methods=["GET"],
        name="document_download",
    ),
    Route(
        "/pieces/{item_id}/versions/{version_id}/suppression",
        version_delete,
        methods=["POST"],
        name="document_delete",
    ),
]
