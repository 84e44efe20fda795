"""The tenant scope every repository filters by, and the context of a signed-in member, which
`portal.tenants.middleware` builds for everything mounted at `/c/{slug}/`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class TenantScope:
    """What every tenant repository filters by and stamps on insert."""

    consortium_id: uuid.UUID


@dataclass(frozen=True)
class TenantContext(TenantScope):
    """The scope of a signed-in member, built by the tenant middleware for each request."""

    slug: str
    name: str
    user_id: uuid.UUID
    membership_id: uuid.UUID
    organisation_id: uuid.UUID
    role: str
    may_sign: bool
    # This member may enter only with a second factor (a consortium setting, for its pilots).
    second_factor_required: bool = False
