"""Who acts, for the audit trail: built once per request by the route (`Actor.of_request`), or
the system actor of jobs and commands, and passed to services instead of the Starlette request,
so services stay callable from anywhere and tests need no fake request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Protocol

from starlette.requests import HTTPConnection

from portal.core.tenancy import TenantContext

MAX_IP = 64  # the audit table's column
MAX_USER_AGENT = 400  # the signing events' column: enough to tell browsers apart


class _User(Protocol):
    """What the session middleware puts in `request.state.user` (`auth.service.CurrentUser`,
    which core may not import)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def email(self) -> str: ...


@dataclass(frozen=True)
class Actor:
    user_id: uuid.UUID | None  # None: anonymous (a login attempt, a signatory's link) or system
    email: str
    organisation_id: uuid.UUID | None  # the member's organisation in the consortium, if inside one
    ip: str
    user_agent: str

    @classmethod
    def of_request(cls, request: HTTPConnection) -> Actor:
        user: _User | None = getattr(request.state, "user", None)
        tenant = getattr(request.state, "tenant", None)
        return cls(
            user_id=user.id if user else None,
            email=user.email if user else "",
            organisation_id=tenant.organisation_id if isinstance(tenant, TenantContext) else None,
            ip=request.client.host[:MAX_IP] if request.client else "",
            user_agent=request.headers.get("user-agent", "")[:MAX_USER_AGENT],
        )

    @classmethod
    def system(cls, user_id: uuid.UUID | None = None, email: str = "") -> Actor:
        """Jobs and commands: no address. `user_id`/`email` name whom a command acts for (the
        administrator `portal create-admin` makes)."""
        return cls(user_id=user_id, email=email, organisation_id=None, ip="", user_agent="")

    def identified(self, user_id: uuid.UUID | None, email: str) -> Actor:
        """The same request (address, browser) on behalf of a person the session does not hold
        yet: the account a login attempt names, an invitee whose account was just created."""
        return replace(self, user_id=user_id, email=email)


SYSTEM = Actor.system()
