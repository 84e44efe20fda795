"""Accounts, sessions and the traces login leaves. Not tenant-owned: a person spans consortia."""

from piccolo.columns import (
    UUID,
    BigInt,
    Boolean,
    ForeignKey,
    Integer,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class User(Table, tablename="auth_user"):
    id = UUID(primary_key=True)
    email = Varchar(length=254, unique=True)  # stored lower-cased
    full_name = Varchar(length=200)
    password_hash = Varchar(length=255, null=True, default=None)  # None: OIDC only
    is_platform_admin = Boolean(default=False)
    is_active = Boolean(default=True)
    created_at = Timestamptz(default=TimestamptzNow())
    # Second factor (see second_factor.py): the TOTP secret, encrypted under the secret key;
    # confirmed once the person typed a first code; the last time step accepted (no replay).
    totp_secret = Varchar(length=255, null=True, default=None)
    totp_confirmed_at = Timestamptz(null=True, default=None)
    totp_last_step = Integer(default=0)


class AuthSession(Table, tablename="auth_session"):
    id = UUID(primary_key=True)
    token_hash = Varchar(length=64, unique=True)  # SHA-256 of the cookie value, never the value
    user = ForeignKey(User, null=False, on_delete=OnDelete.restrict)
    created_at = Timestamptz(default=TimestamptzNow())
    expires_at = Timestamptz()
    # Password (or OIDC) accepted, second factor still to type: opens no page but /login/code.
    pending = Boolean(default=False)


class LoginAttempt(Table, tablename="auth_login_attempt"):
    """Kept per e-mail, account or not, so the brute-force rule does not reveal which exist."""

    id = UUID(primary_key=True)
    email = Varchar(length=254, index=True)
    outcome = Varchar(length=16)  # LoginOutcome
    ip = Varchar(length=64, default="")
    at = Timestamptz(default=TimestamptzNow(), index=True)


class PasswordResetToken(Table, tablename="auth_password_reset"):
    id = UUID(primary_key=True)
    user = ForeignKey(User, null=False, on_delete=OnDelete.restrict)
    token_hash = Varchar(length=64, unique=True)
    expires_at = Timestamptz()
    used_at = Timestamptz(null=True, default=None)


class OidcIdentity(Table, tablename="auth_oidc_identity"):
    id = UUID(primary_key=True)
    provider = Varchar(length=64)
    subject = Varchar(length=255)
    user = ForeignKey(User, null=False, on_delete=OnDelete.restrict)
    email = Varchar(length=254)
    created_at = Timestamptz(default=TimestamptzNow())


class RecoveryCode(Table, tablename="auth_recovery_code"):
    """Single-use codes for a lost authenticator; only their hash is kept."""

    id = UUID(primary_key=True)
    user = ForeignKey(User, null=False, on_delete=OnDelete.restrict)
    code_hash = Varchar(length=64)
    used_at = Timestamptz(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class ThrottleCounter(Table, tablename="auth_throttle"):
    """Requests counted per (bucket, subject) in fixed windows (see `portal.auth.throttle`);
    used when Redis is not configured. Unique on (bucket, subject, slot): an upsert counts."""

    id = UUID(primary_key=True)
    bucket = Varchar(length=32)
    subject = Varchar(length=128)  # a client address, or a pair key built by the caller
    slot = BigInt()  # epoch seconds // window seconds
    hits = Integer(default=0)
    expires = BigInt(index=True)  # epoch seconds after which the row may be deleted
