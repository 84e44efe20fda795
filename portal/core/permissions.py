"""Roles and what each may do in a consortium: the one matrix, shown on the page "Rôles et droits".

A tenant route declares its permission with `@requires(...)`; `tests/test_routes_meta.py` checks
that every route under `/c/{slug}/` does.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from enum import StrEnum
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response


class Role(StrEnum):
    PILOT = "pilot"  # bailleur running the consortium's space
    LESSOR_STAFF = "lessor_staff"
    ASSOCIATION_STAFF = "association_staff"
    STATE_AGENT = "state_agent"
    FINANCE = "finance"
    READ_ONLY = "read_only"


class Permission(StrEnum):
    SPACE_VIEW = "space.view"
    MEMBERS_VIEW = "members.view"
    MEMBERS_INVITE = "members.invite"
    MEMBERS_MANAGE = "members.manage"
    ORGANISATIONS_MANAGE = "organisations.manage"
    AUDIT_VIEW = "audit.view"
    SETTINGS_MANAGE = "settings.manage"  # the consortium's settings
    DEADLINES_VIEW = "deadlines.view"
    DEADLINES_MANAGE = "deadlines.manage"  # create deadlines, set the reminder offsets
    DEADLINES_COMPLETE = "deadlines.complete"  # for one's own organisation's deadlines
    DOCUMENTS_VIEW = "documents.view"  # association staff: their organisation's only
    DOCUMENTS_REQUEST = "documents.request"
    DOCUMENTS_UPLOAD = "documents.upload"  # for one's own organisation (the pilot: for any)
    DOCUMENTS_REVIEW = "documents.review"  # which ones: see `REVIEW_RULE` below
    CONVENTIONS_VIEW = "conventions.view"  # which ones: see portal/conventions/access.py
    CONVENTIONS_EDIT = "conventions.edit"
    CONVENTIONS_COMMENT = "conventions.comment"  # comment and propose changes, as a party
    PAYMENTS_VIEW = "payments.view"  # which ones: see portal/payments/access.py
    PAYMENTS_MANAGE = "payments.manage"
    PAYMENTS_DECLARE = "payments.declare"  # results and justified expenses, for one's own
    PAYMENTS_SHARE_MODELS = "payments.share_models"  # export models seen by every member
    HOUSEHOLDS_VIEW = "households.view"  # what of which: see portal/households/visibility.py
    HOUSEHOLDS_ORIENT = "households.orient"  # a household enters the register
    HOUSEHOLDS_FOLLOW = "households.follow"  # write in a file one follows or houses
    HOUSEHOLDS_SETTINGS = "households.settings"  # diagnostic grid, alert delay


_EVERYONE = frozenset(Role)

MATRIX: dict[Permission, frozenset[Role]] = {
    Permission.SPACE_VIEW: _EVERYONE,
    Permission.MEMBERS_VIEW: _EVERYONE,
    Permission.MEMBERS_INVITE: frozenset({Role.PILOT}),
    Permission.MEMBERS_MANAGE: frozenset({Role.PILOT}),
    Permission.ORGANISATIONS_MANAGE: frozenset({Role.PILOT}),
    Permission.AUDIT_VIEW: frozenset({Role.PILOT}),
    Permission.SETTINGS_MANAGE: frozenset({Role.PILOT}),
    Permission.DEADLINES_VIEW: _EVERYONE,
    Permission.DEADLINES_MANAGE: frozenset({Role.PILOT}),
    Permission.DEADLINES_COMPLETE: _EVERYONE - {Role.READ_ONLY},
    Permission.DOCUMENTS_VIEW: _EVERYONE,
    Permission.DOCUMENTS_REQUEST: frozenset({Role.PILOT}),
    Permission.DOCUMENTS_UPLOAD: _EVERYONE - {Role.READ_ONLY},
    Permission.DOCUMENTS_REVIEW: frozenset({Role.PILOT, Role.STATE_AGENT}),
    Permission.CONVENTIONS_VIEW: _EVERYONE,
    Permission.CONVENTIONS_EDIT: frozenset({Role.PILOT}),
    Permission.CONVENTIONS_COMMENT: _EVERYONE - {Role.READ_ONLY},
    Permission.PAYMENTS_VIEW: _EVERYONE,
    Permission.PAYMENTS_MANAGE: frozenset({Role.PILOT, Role.FINANCE}),
    Permission.PAYMENTS_DECLARE: frozenset({Role.PILOT, Role.FINANCE, Role.ASSOCIATION_STAFF}),
    Permission.PAYMENTS_SHARE_MODELS: frozenset({Role.PILOT}),
    Permission.HOUSEHOLDS_VIEW: _EVERYONE,
    Permission.HOUSEHOLDS_ORIENT: frozenset({Role.ASSOCIATION_STAFF}),
    Permission.HOUSEHOLDS_FOLLOW: frozenset({Role.ASSOCIATION_STAFF, Role.LESSOR_STAFF}),
    Permission.HOUSEHOLDS_SETTINGS: frozenset({Role.PILOT}),
}


# Shown under the matrix; enforced by `portal.documents.service.review`. A validation may
# release payments, so it follows the document's place in the project.
REVIEW_RULE = (
    "Valider une pièce ou la faire compléter : le pilote, pour toute pièce ; un agent de l'État, "
    "pour les pièces demandées au titre d'une convention dont son service est partie, ou "
    "demandées par son service. Personne, pilote compris, ne valide une pièce déposée par sa "
    "propre organisation, sauf si les réglages du consortium le permettent : la validation est "
    "alors signalée comme telle sur la pièce et dans le journal."
)


def allows(role: str, permission: Permission) -> bool:
    return role in MATRIX[permission]


Endpoint = Callable[[Request], Awaitable[Response]]


def requires(permission: Permission) -> Callable[[Endpoint], Endpoint]:
    """Declare the permission of a tenant route. A member without it gets 403 (they are inside
    the consortium, so its existence is no secret to them)."""

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def wrapper(request: Request) -> Response:
            tenant = request.state.tenant
            if not allows(tenant.role, permission):
                raise HTTPException(403)
            return await endpoint(request)

        wrapper.permission = permission  # type: ignore[attr-defined]
        return wrapper

    return decorate


def login_required(endpoint: Endpoint) -> Endpoint:
    """Pages of a signed-in person outside any consortium; anonymous visitors go to login."""

    @functools.wraps(endpoint)
    async def wrapper(request: Request) -> Response:
        if request.state.user is None:
            return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
        return await endpoint(request)

    return wrapper
