"""French error pages; no stack trace ever reaches a user."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from portal.core import db
from portal.core.forms import FieldError
from portal.core.outage import DatabaseUnavailable, Unavailable
from portal.core.storage import ObjectMissing
from portal.core.templating import env

log = logging.getLogger("portal")

_PAGES = {
    400: (
        "Requête invalide",
        "La demande n'a pas pu être traitée. Vérifiez les informations saisies.",
    ),
    403: ("Accès refusé", "Votre rôle ne vous permet pas d'effectuer cette action."),
    404: ("Page introuvable", "Cette page n'existe pas ou vous n'y avez pas accès."),
    405: ("Action impossible", "Cette action n'est pas disponible à cette adresse."),
    410: (
        "Fichier introuvable",
        "Ce fichier n'est plus disponible dans le stockage du portail. L'équipe technique en "
        "est informée ; s'il s'agit d'un justificatif, il est à déposer à nouveau.",
    ),
    413: ("Envoi trop volumineux", "Le contenu envoyé dépasse la taille autorisée."),
    500: (
        "Erreur du portail",
        "Une erreur inattendue s'est produite. L'équipe technique en est informée ; "
        "réessayez dans quelques instants.",
    ),
    503: ("Service momentanément indisponible", Unavailable.default_message),
}


def error_page(request: Request, status: int, detail: str | None = None) -> HTMLResponse:
    title, message = _PAGES.get(status, _PAGES[400] if status < 500 else _PAGES[500])
    state = request.scope.get("state", {})
    html = env.get_template("errors/error.html").render(
        request=request,
        user=state.get("user"),
        tenant=None,
        my_consortia=[],
        unread_notifications=0,
        csrf_token=state.get("csrf_token", ""),
        flash_message=None,
        status=status,
        title=title,
        message=detail or message,
    )
    return HTMLResponse(html, status_code=status)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # Starlette's default details are English; ours come from the table above.
    detail = exc.detail if exc.detail and exc.detail != _english(exc.status_code) else None
    response = error_page(request, exc.status_code, detail)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def field_error(request: Request, exc: Exception) -> Response:
    """A refused field that its route did not show beside the field (see `core.forms.Form`):
    a 400 with the French message, never a 500, and the route stopped before writing."""
    assert isinstance(exc, FieldError)
    return error_page(request, 400, exc.message)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("Erreur non gérée sur %s %s", request.method, request.url.path, exc_info=exc)
    return error_page(request, 500)


def outage_page(request: Request, exc: BaseException) -> Response | None:
    """The page for an outage of a dependency (503, saying which, in French) or a lost object
    (410); None for any other error."""
    if isinstance(exc, ObjectMissing):
        log.error("Objet manquant dans le stockage : %s (%s)", exc.key, request.url.path)
        return error_page(request, 410)
    if not isinstance(exc, Unavailable) and not db.unavailable(exc):
        return None
    outage = exc if isinstance(exc, Unavailable) else DatabaseUnavailable(str(exc))
    log.warning(
        "Service indisponible (%s) sur %s %s : %s",
        outage.service,
        request.method,
        request.url.path,
        exc,
    )
    response = error_page(request, 503, outage.message)
    response.headers["retry-after"] = "30"
    return response


class OutageMiddleware:
    """Outermost: whatever layer meets the outage (the session lookup, a route, a template),
    the answer is the 503 page, not a 500 with a trace in the log for every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            page = None if started else outage_page(Request(scope), exc)
            if page is None:
                raise
            await page(scope, receive, send)


def csrf_failure(request: Request) -> Response:
    return error_page(
        request,
        403,
        "Le formulaire a expiré ou ne provient pas du portail : rien n'a été modifié. "
        "Rechargez la page et recommencez.",
    )


def _english(status: int) -> str:
    from http import HTTPStatus

    return HTTPStatus(status).phrase
