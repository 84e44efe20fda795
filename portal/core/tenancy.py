"""The tenant scope every repository filters by, and the context of a signed-in member, which
`portal.tenants.middleware` builds for everything mounted at `/c/{slug}/`.

A scope is built only through its named constructors, so each one says where its consortium
came from: `TenantContext.for_member` (the space a member entered, checked by the middleware),
`TenantScope.for_job` (the consortium a job's payload carries, stamped when it was enqueued in
a scope) and `TenantScope.for_platform` (a consortium found across consortia: from a secret
token, a platform-wide scan, an administrator's choice; the reason is logged). A meta-test
(`tests/test_tenant_scoping.py`) fails on any other construction in `portal/` and `workers/`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

log = logging.getLogger("portal.scope")


@dataclass(frozen=True)
class TenantScope:
    """What every tenant repository filters by and stamps on insert."""

    consortium_id: uuid.UUID

    @staticmethod
    def for_job(consortium_id: uuid.UUID) -> TenantScope:
        """The consortium a job carries (its payload, its outbox row)."""
        return TenantScope(consortium_id=consortium_id)

    @staticmethod
    def for_platform(consortium_id: uuid.UUID, *, reason: str) -> TenantScope:
        """A consortium the platform found across consortia, or chose (say why: the reason is
        logged, and reviewed with every call site, like `platform_scope`'s)."""
        if not reason.strip():
            raise ValueError("a platform scope says why")
        log.debug("Portée d'un consortium choisi par la plateforme : %s", reason)
        return TenantScope(consortium_id=consortium_id)


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

    @staticmethod
    def for_member(
        *,
        consortium_id: uuid.UUID,
        slug: str,
        name: str,
        user_id: uuid.UUID,
        membership_id: uuid.UUID,
        organisation_id: uuid.UUID,
        role: str,
        may_sign: bool,
        second_factor_required: bool = False,
    ) -> TenantContext:
        """The active membership the middleware found for the space a member entered."""
        return TenantContext(
            consortium_id=consortium_id,
            slug=slug,
            name=name,
            user_id=user_id,
            membership_id=membership_id,
            organisation_id=organisation_id,
            role=role,
            may_sign=may_sign,
            second_factor_required=second_factor_required,
        )
