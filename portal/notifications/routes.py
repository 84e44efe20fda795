"""The notification centre, e-mail preferences and the one-click unsubscribe link."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.core.forms import checkbox, read_form, text
from portal.core.permissions import login_required
from portal.core.responses import path_uuid, safe_next, see_other
from portal.core.templating import flash, render
from portal.notifications import service
from portal.notifications.enums import EmailMode


@login_required
async def notification_list(request: Request) -> Response:
    return await render(
        request,
        "notifications/list.html",
        {"notifications": await service.of_user(request.state.user.id)},
    )


@login_required
async def notification_open(request: Request) -> Response:
    row = await service.open_one(request.state.user.id, path_uuid(request, "notification_id"))
    if row is None:
        raise HTTPException(404)
    return see_other(safe_next(row["link"], "/notifications"))


@login_required
async def notification_read_all(request: Request) -> Response:
    await service.mark_all_read(request.state.user.id)
    return flash(see_other("/notifications"), "Toutes les notifications sont marquées comme lues.")


@login_required
async def preferences(request: Request) -> Response:
    user_id = request.state.user.id
    errors: dict[str, str] = {}
    if request.method == "POST":
        form = await read_form(request)
        mode = text(form, "email_mode")
        if mode not in set(EmailMode):
            errors["email_mode"] = "Choisissez quand recevoir les e-mails."
        else:
            await service.save_preference(user_id, EmailMode(mode), checkbox(form, "unsubscribed"))
            return flash(see_other("/compte/notifications"), "Vos préférences sont enregistrées.")
    return await render(
        request,
        "notifications/preferences.html",
        {"preference": await service.preference(user_id), "errors": errors},
        status_code=400 if errors else 200,
    )


async def unsubscribe(request: Request) -> Response:
    """GET shows a confirmation button; POST (the button, or a mail client's RFC 8058 one-click
    request, which carries no CSRF token: the signed link is the proof) unsubscribes."""
    token = request.path_params["token"]
    if service.user_for_unsubscribe_token(token) is None:
        raise HTTPException(404)
    done = False
    if request.method == "POST":
        done = await service.unsubscribe(token)
    return await render(request, "notifications/unsubscribe.html", {"done": done, "token": token})


routes = [
    Route("/notifications", notification_list, methods=["GET"], name="notification_list"),
    Route(
        "/notifications/tout-lu",
        notification_read_all,
        methods=["POST"],
        name="notification_read_all",
    ),
    Route(
        "/notifications/{notification_id}",
        notification_open,
        methods=["GET"],
        name="notification_open",
    ),
    Route(
        "/compte/notifications",
        preferences,
        methods=["GET", "POST"],
        name="notification_preferences",
    ),
    Route("/desabonnement/{token}", unsubscribe, methods=["GET", "POST"], name="unsubscribe"),
]
