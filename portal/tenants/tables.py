"""Consortia (the tenants), organisations, and who takes part in which consortium.

Tenant-owned tables carry a non-null `consortium` column and are only queried through
`portal.tenants.repository` (see `tests/test_tenant_scoping.py`).
"""

from piccolo.columns import (
    UUID,
    Array,
    Boolean,
    ForeignKey,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from portal.auth.tables import User


class Consortium(Table, tablename="tenants_consortium"):
    id = UUID(primary_key=True)
    name = Varchar(length=200)
    slug = Varchar(length=64, unique=True)
    programme = Varchar(length=32)  # Programme
    departements = Array(Varchar(length=3))  # INSEE codes: "75", "2A", "971"
    status = Varchar(length=16)  # ConsortiumStatus
    # Settings the pilot edits (`/c/{slug}/reglages`):
    self_review_allowed = Boolean(default=False)  # an organisation validates its own deposits
    # Pilots must have a second factor (TOTP) to enter the space: see auth/second_factor.py.
    pilot_second_factor_required = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())


class Organisation(Table, tablename="tenants_organisation"):
    """One legal entity, shared by every consortium it takes part in."""

    id = UUID(primary_key=True)
    name = Varchar(length=200)
    siret = Varchar(length=14, unique=True)
    kinds = Array(Varchar(length=32))  # OrganisationKind, several allowed
    city = Varchar(length=100, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class Participation(Table, tablename="tenants_participation"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    organisation = ForeignKey(Organisation, null=False, on_delete=OnDelete.restrict)
    created_at = Timestamptz(default=TimestamptzNow())


class Membership(Table, tablename="tenants_membership"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    user = ForeignKey(User, null=False, on_delete=OnDelete.restrict)
    organisation = ForeignKey(Organisation, null=False, on_delete=OnDelete.restrict)
    role = Varchar(length=32)  # portal.core.permissions.Role
    may_sign = Boolean(default=False)
    is_active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())


class Invitation(Table, tablename="tenants_invitation"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    organisation = ForeignKey(Organisation, null=False, on_delete=OnDelete.restrict)
    email = Varchar(length=254, index=True)
    role = Varchar(length=32)
    may_sign = Boolean(default=False)
    token_hash = Varchar(length=64, unique=True)
    invited_by = ForeignKey(User, null=True, on_delete=OnDelete.set_null)
    expires_at = Timestamptz()
    accepted_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
