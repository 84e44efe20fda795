"""Platform administration: create consortia, add their organisations, invite their first pilot.

Administrators are not members: they never see a consortium's own pages.
"""

from __future__ import annotations

import functools
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core.actor import Actor
from portal.core.forms import read_form, submit
from portal.core.permissions import Endpoint, Role
from portal.core.responses import path_uuid, see_other
from portal.core.scope import platform_scope
from portal.core.templating import flash, render
from portal.jobs import service as job_service
from portal.objects import service as objects
from portal.tenants import service
from portal.tenants.enums import ConsortiumStatus, OrganisationKind, Programme


def admin_only(endpoint: Endpoint) -> Endpoint:
    @functools.wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        user = request.state.user
        if user is None:
            return see_other(f"/login?next={request.url.path}")
        if not user.is_platform_admin:
            raise HTTPException(404)
        if not user.has_second_factor:
            # The platform's keys: no admin page without a second factor, enrolled first.
            return see_other(f"/compte/securite?next={quote(request.url.path)}")
        async with platform_scope("platform administrators manage every consortium"):
            return await endpoint(request)

    return wrapper


async def _consortium(request: Request):  # type: ignore[no-untyped-def]
    found = await service.scope_and_consortium(path_uuid(request, "consortium_id"))
    if found is None:
        raise HTTPException(404)
    return found


@admin_only
async def admin_home(request: Request) -> Response:
    return await _home(request)


async def _home(
    request: Request, errors: dict[str, str] | None = None, values: dict[str, object] | None = None
) -> Response:
    return await render(
        request,
        "admin/home.html",
        {
            "consortia": await service.list_consortia(),
            "missing_objects": await objects.missing_count(),
            "programmes": list(Programme),
            "statuses": list(ConsortiumStatus),
            "errors": errors or {},
            "values": values or {},
        },
        status_code=400 if errors else 200,
    )


@admin_only
async def consortium_create(request: Request) -> Response:
    result = service.consortium_form(await read_form(request))
    consortium_id = await submit(
        result,
        lambda: service.create_consortium(Actor.of_request(request), result.values),
        "name",
    )
    if consortium_id is None:
        return await _home(request, result.errors, result.values)
    return flash(see_other(f"/admin/consortiums/{consortium_id}"), "Consortium créé.")


async def _detail(
    request: Request,
    errors: dict[str, str] | None = None,
    values: dict[str, object] | None = None,
    form: str = "",
) -> Response:
    scope, consortium = await _consortium(request)
    return await render(
        request,
        "admin/consortium.html",
        {
            "consortium": consortium,
            "organisations": await service.organisations(scope),
            "members": await service.members(scope),
            "invitations": await service.pending_invitations(scope),
            "kinds": list(OrganisationKind),
            "roles": list(Role),
            "errors": errors or {},
            "values": values or {},
            "form": form,
        },
        status_code=400 if errors else 200,
    )


@admin_only
async def consortium_detail(request: Request) -> Response:
    return await _detail(request)


@admin_only
async def consortium_organisation_add(request: Request) -> Response:
    scope, consortium = await _consortium(request)
    result = service.organisation_form(await read_form(request))
    await submit(
        result,
        lambda: service.add_organisation(Actor.of_request(request), scope, result.values),
        "siret",
    )
    if not result.ok:
        return await _detail(request, result.errors, result.values, "organisation")
    return flash(see_other(f"/admin/consortiums/{consortium['id']}"), "Organisation ajoutée.")


@admin_only
async def consortium_invite(request: Request) -> Response:
    scope, consortium = await _consortium(request)
    result = service.invitation_form(await read_form(request))
    user = request.state.user
    await submit(
        result,
        lambda: service.invite(Actor.of_request(request), scope, user, result.values),
        "email",
    )
    if not result.ok:
        return await _detail(request, result.errors, result.values, "invitation")
    return flash(
        see_other(f"/admin/consortiums/{consortium['id']}"),
        f"Invitation envoyée à {result.values['email']}.",
    )


@admin_only
async def job_list(request: Request) -> Response:
    return await render(
        request,
        "admin/jobs.html",
        {
            "jobs": await job_service.failed_jobs(),
            "uncertain": await job_service.uncertain_deliveries(),
            "missing": await objects.missing(),
        },
    )


@admin_only
async def job_retry(request: Request) -> Response:
    if not await job_service.retry(path_uuid(request, "job_id")):
        raise HTTPException(404)
    return flash(see_other("/admin/taches"), "La tâche est relancée.")


routes = [
    Route("/admin/taches", job_list, methods=["GET"], name="admin_jobs"),
    Route("/admin/taches/{job_id}/relance", job_retry, methods=["POST"], name="admin_job_retry"),
    Route("/admin", admin_home, methods=["GET"], name="admin_home"),
    Route(
        "/admin/consortiums", consortium_create, methods=["POST"], name="admin_consortium_create"
    ),
    Route(
        "/admin/consortiums/{consortium_id}",
        consortium_detail,
        methods=["GET"],
        name="admin_consortium",
    ),
    Route(
        "/admin/consortiums/{consortium_id}/organisations",
        consortium_organisation_add,
        methods=["POST"],
        name="admin_organisation_add",
    ),
    Route(
        "/admin/consortiums/{consortium_id}/invitations",
        consortium_invite,
        methods=["POST"],
        name="admin_invite",
    ),
]
