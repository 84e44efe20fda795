"""Deadlines and reminder settings of a consortium (under `/c/{slug}/`)."""

from __future__ import annotations

import datetime as dt

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core import clock
from portal.core.forms import read_form, submit
from portal.core.permissions import Permission, allows, requires
from portal.core.responses import path_uuid, see_other
from portal.core.templating import flash, render
from portal.deadlines import forms, service
from portal.reminders import service as reminders
from portal.reminders.schedule import steps
from portal.tenants import service as tenants


def _base(request: Request) -> str:
    return f"/c/{request.state.tenant.slug}/echeances"


async def _page(
    request: Request, errors: dict[str, str] | None = None, values: dict[str, object] | None = None
) -> Response:
    ctx = request.state.tenant
    return await render(
        request,
        "deadlines/list.html",
        {
            "deadlines": await service.listing(ctx),
            "organisations": await tenants.organisations(ctx),
            "today": clock.today(),
            "errors": errors or {},
            "values": values or {},
            "can": lambda p: allows(ctx.role, Permission(p)),
        },
        status_code=400 if errors else 200,
    )


@requires(Permission.DEADLINES_VIEW)
async def deadline_list(request: Request) -> Response:
    return await _page(request)


@requires(Permission.DEADLINES_MANAGE)
async def deadline_create(request: Request) -> Response:
    result = forms.deadline_form(await read_form(request))
    ctx = request.state.tenant
    values = {k: result.values[k] for k in ("title", "description", "due_on", "organisation")}
    if await submit(result, lambda: service.create(ctx, values), "organisation") is None:
        return await _page(request, result.errors, result.values)
    return flash(see_other(_base(request)), f"Échéance « {result.values['title']} » ajoutée.")


@requires(Permission.DEADLINES_COMPLETE)
async def deadline_complete(request: Request) -> Response:
    try:
        await service.complete(request.state.tenant, path_uuid(request, "deadline_id"))
    except LookupError as exc:
        raise HTTPException(404) from exc
    except PermissionError as exc:
        raise HTTPException(403) from exc
    return flash(
        see_other(_base(request)), "Échéance marquée comme faite : les rappels s'arrêtent."
    )


@requires(Permission.DEADLINES_MANAGE)
async def reminder_settings(request: Request) -> Response:
    ctx = request.state.tenant
    errors: dict[str, str] = {}
    values: dict[str, object] = {}
    if request.method == "POST":
        result = forms.policy_form(await read_form(request))
        if result.ok:
            await reminders.save_policy(ctx, result.values["policy"])
            return flash(see_other(f"{_base(request)}/rappels"), "Rappels enregistrés.")
        errors, values = result.errors, result.values
    policy = await reminders.policy_for(ctx)
    example_due = dt.date(2027, 3, 31)
    return await render(
        request,
        "deadlines/policy.html",
        {
            "policy": policy,
            "errors": errors,
            "values": values,
            "example_due": example_due,
            "example_steps": steps(example_due, policy),
        },
        status_code=400 if errors else 200,
    )


routes = [
    Route("/echeances", deadline_list, methods=["GET"], name="deadline_list"),
    Route("/echeances", deadline_create, methods=["POST"], name="deadline_create"),
    Route(
        "/echeances/rappels", reminder_settings, methods=["GET", "POST"], name="reminder_settings"
    ),
    Route(
        "/echeances/{deadline_id}/fait",
        deadline_complete,
        methods=["POST"],
        name="deadline_complete",
    ),
]
