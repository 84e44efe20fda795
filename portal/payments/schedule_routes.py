"""Schedules (échéanciers): proposing one for a signed convention, recording it, showing and
editing it."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from portal.conventions import service as conventions
from portal.conventions.enums import Funder
from portal.core.actor import Actor
from portal.core.forms import FieldError, is_digits, read_form, submit, text
from portal.core.permissions import Permission, requires
from portal.core.responses import path_uuid, see_other
from portal.core.templating import flash, render
from portal.documents import service as documents
from portal.payments import forms, pages, schedules, service
from portal.payments.enums import Basis, ScheduleKind, Trigger
from portal.payments.service import LineFilter
from portal.tenants import service as tenants


async def _options(request: Request, convention_id: uuid.UUID) -> dict[str, Any]:
    ctx = request.state.tenant
    all_lines = await service.lines_of(ctx, service.EVERYTHING, LineFilter(kind="subsidy"))
    return {
        "organisations": await tenants.organisations(ctx),
        "parties": await conventions.parties_of(ctx, convention_id),
        "documents": await documents.items_of(ctx),
        "subsidy_lines": all_lines,
        "subsidies": [
            s
            for s in await service.schedules_of(ctx, service.EVERYTHING)
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
        lambda: schedules.create(Actor.of_request(request), ctx, user, result.values["draft"]),
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
    return flash(
        see_other(f"{pages.base(request)}/echeanciers/{created}"), "Échéancier enregistré."
    )


@requires(Permission.PAYMENTS_VIEW)
async def schedule_show(request: Request) -> Response:
    try:
        detail = await service.schedule_detail(
            request.state.tenant, path_uuid(request, "schedule_id")
        )
    except LookupError as exc:
        raise HTTPException(404) from exc
    return await render(request, "payments/schedule.html", {"d": detail, "can": pages.can(request)})


async def _editable(request: Request) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    ctx = request.state.tenant
    schedule = await service.schedule_of(ctx, path_uuid(request, "schedule_id"))
    if schedule is None:
        raise HTTPException(404)
    lines = await service.lines_of(ctx, service.EVERYTHING, LineFilter(schedule=schedule["id"]))
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
            Actor.of_request(request),
            ctx,
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
    return flash(
        see_other(f"{pages.base(request)}/echeanciers/{schedule['id']}"), "Échéancier modifié."
    )
