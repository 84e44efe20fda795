"""The payment lines (échéances): the filtered list, one line with its payments and history,
and what is recorded on it (a payment, a request, a condition met, a declaration, a
cancellation)."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from portal.conventions import service as conventions
from portal.core.actor import Actor
from portal.core.forms import FieldError, read_date, read_form, redisplay, text
from portal.core.permissions import Permission, requires
from portal.core.responses import path_uuid, see_other
from portal.core.templating import flash, render
from portal.payments import access, forms, pages, service
from portal.payments.enums import Basis, LineStatus, ScheduleKind
from portal.tenants import service as tenants


@requires(Permission.PAYMENTS_VIEW)
async def payment_list(request: Request) -> Response:
    ctx = request.state.tenant
    found, values = forms.line_filter(request.query_params)
    lines = await service.visible_lines(ctx, found)
    view = await access.sight_of(ctx)
    seen = await service.schedules_of(ctx, view)
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
            "can": pages.can(request),
        },
    )


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
            "can": pages.can(request),
        },
        status_code=status_code if (errors or warnings) else 200,
    )


@requires(Permission.PAYMENTS_VIEW)
async def line_show(request: Request) -> Response:
    return await _line_page(request)


def _line_url(request: Request) -> str:
    return f"{pages.base(request)}/lignes/{request.path_params['line_id']}"


@requires(Permission.PAYMENTS_MANAGE)
async def payment_record(request: Request) -> Response:
    ctx, user = request.state.tenant, request.state.user
    result = forms.payment_form(await read_form(request))
    values = result.values
    try:
        if not result.ok:
            return await _line_page(request, result.errors, values, status_code=400)
        warnings = await service.record_payment(
            Actor.of_request(request),
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
            Actor.of_request(request),
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
            Actor.of_request(request),
            ctx,
            user,
            path_uuid(request, "line_id"),
            text(form, "note", 2000),
        )

    return await _line_action(request, act, "Condition constatée : l'échéance est payable.", "note")


@requires(Permission.PAYMENTS_DECLARE)
async def declaration(request: Request) -> Response:
    ctx, user = request.state.tenant, request.state.user
    line_id = path_uuid(request, "line_id")

    async def act(form: Any) -> None:
        line = await service.line_of(ctx, line_id)
        if line is None:
            raise LookupError(line_id)
        result = forms.declaration_form(form, Basis(line["basis"]))
        if not result.ok:
            field, message = next(iter(result.errors.items()))
            raise FieldError(message, field)
        await service.declare(
            Actor.of_request(request),
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
            Actor.of_request(request),
            ctx,
            user,
            path_uuid(request, "line_id"),
            path_uuid(request, "payment_id"),
            text(form, "cancel_reason", 2000),
        )

    return await _line_action(
        request, act, "Versement annulé ; il reste dans l'historique.", "cancel_reason"
    )
