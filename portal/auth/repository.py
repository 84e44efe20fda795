"""Queries on accounts, sessions, login attempts, reset tokens and OIDC identities."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from portal.auth.tables import (
    AuthSession,
    LoginAttempt,
    OidcIdentity,
    PasswordResetToken,
    RecoveryCode,
    ThrottleCounter,
    User,
)
from portal.core.prepared import prepared

Row = dict[str, Any]


async def user_by_email(email: str) -> Row | None:
    row: Row | None = await User.select().where(User.email == email).first()
    return row


async def user_by_id(user_id: uuid.UUID) -> Row | None:
    row: Row | None = await User.select().where(User.id == user_id).first()
    return row


async def insert_user(
    email: str, full_name: str, password_hash: str | None, is_platform_admin: bool = False
) -> uuid.UUID:
    user = User(
        email=email,
        full_name=full_name,
        password_hash=password_hash,
        is_platform_admin=is_platform_admin,
    )
    await user.save()
    return user.id


async def update_user(user_id: uuid.UUID, **values: Any) -> None:
    await User.update({getattr(User, k): v for k, v in values.items()}).where(User.id == user_id)


async def insert_session(
    user_id: uuid.UUID, token_hash: str, expires_at: dt.datetime, pending: bool = False
) -> None:
    await AuthSession.insert(
        AuthSession(user=user_id, token_hash=token_hash, expires_at=expires_at, pending=pending)
    )


# Built once, not on every request: each access through a foreign key copies the columns.
_SESSION_USER = (
    AuthSession.user.id,
    AuthSession.user.email,
    AuthSession.user.full_name,
    AuthSession.user.is_platform_admin,
    AuthSession.user.is_active,
    AuthSession.user.totp_confirmed_at,
)


# Every request of a signed-in person runs it: built once (`portal.core.prepared`).
_SESSION_USER_QUERY = prepared(
    lambda p: (
        AuthSession.select(*_SESSION_USER)
        .where(
            (AuthSession.token_hash == p.token_hash)
            & (AuthSession.expires_at > p.now)
            & (AuthSession.pending == p.pending)
        )
        .first()
    )
)


async def session_user(token_hash: str, now: dt.datetime, pending: bool = False) -> Row | None:
    """The user of a live session; `pending`: of a session still waiting for its second factor
    (the two kinds never answer for each other)."""
    row: Row | None = await _SESSION_USER_QUERY(token_hash=token_hash, now=now, pending=pending)
    return row


async def delete_session(token_hash: str) -> None:
    await AuthSession.delete().where(AuthSession.token_hash == token_hash)


async def delete_sessions_of(user_id: uuid.UUID) -> None:
    await AuthSession.delete().where(AuthSession.user == user_id)


async def insert_attempt(email: str, outcome: str, ip: str, at: dt.datetime) -> None:
    await LoginAttempt.insert(LoginAttempt(email=email, outcome=outcome, ip=ip, at=at))


async def failure_times(email: str, since: dt.datetime, ip: str | None = None) -> list[dt.datetime]:
    """Failed attempts on `email` since then; from one address only when `ip` is given."""
    where = (
        (LoginAttempt.email == email)
        & (LoginAttempt.outcome == "failed")
        & (LoginAttempt.at >= since)
    )
    if ip is not None:
        where &= LoginAttempt.ip == ip
    rows = await LoginAttempt.select(LoginAttempt.at).where(where).order_by(LoginAttempt.at)
    return [row["at"] for row in rows]


async def insert_reset_token(
    token_id: uuid.UUID, user_id: uuid.UUID, token_hash: str, expires_at: dt.datetime
) -> None:
    await PasswordResetToken.insert(
        PasswordResetToken(id=token_id, user=user_id, token_hash=token_hash, expires_at=expires_at)
    )


async def reset_token_with_user(token_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await PasswordResetToken.select(
            PasswordResetToken.id,
            PasswordResetToken.expires_at,
            PasswordResetToken.used_at,
            PasswordResetToken.user.email.as_alias("email"),
            PasswordResetToken.user.full_name.as_alias("full_name"),
        )
        .where(PasswordResetToken.id == token_id)
        .first()
    )
    return row


async def valid_reset_token(token_hash: str, now: dt.datetime) -> Row | None:
    row: Row | None = (
        await PasswordResetToken.select()
        .where(
            (PasswordResetToken.token_hash == token_hash)
            & PasswordResetToken.used_at.is_null()
            & (PasswordResetToken.expires_at > now)
        )
        .first()
    )
    return row


async def consume_reset_token(token_id: uuid.UUID, now: dt.datetime) -> bool:
    """Mark used; False when another request consumed it first (single use under concurrency)."""
    rows = (
        await PasswordResetToken.update({PasswordResetToken.used_at: now})
        .where((PasswordResetToken.id == token_id) & PasswordResetToken.used_at.is_null())
        .returning(PasswordResetToken.id)
    )
    return len(rows) == 1


async def revoke_reset_tokens(user_id: uuid.UUID, now: dt.datetime) -> None:
    """Every unused link of the user stops working (marked used: the check is the same)."""
    await PasswordResetToken.update({PasswordResetToken.used_at: now}).where(
        (PasswordResetToken.user == user_id) & PasswordResetToken.used_at.is_null()
    )


async def identity_user(provider: str, subject: str) -> Row | None:
    row: Row | None = (
        await OidcIdentity.select(OidcIdentity.user)
        .where((OidcIdentity.provider == provider) & (OidcIdentity.subject == subject))
        .first()
    )
    return row


async def insert_identity(provider: str, subject: str, user_id: uuid.UUID, email: str) -> None:
    await OidcIdentity.insert(
        OidcIdentity(provider=provider, subject=subject, user=user_id, email=email)
    )


# Second factor ------------------------------------------------------------------------------


async def claim_totp_step(user_id: uuid.UUID, step: int) -> bool:
    """Record `step` as used; False when it (or a later one) already was: a code works once."""
    rows = (
        await User.update({User.totp_last_step: step})
        .where((User.id == user_id) & (User.totp_last_step < step))
        .returning(User.id)
    )
    return len(rows) == 1


async def replace_recovery_codes(user_id: uuid.UUID, code_hashes: list[str]) -> None:
    await RecoveryCode.delete().where(RecoveryCode.user == user_id)
    if code_hashes:
        await RecoveryCode.insert(
            *(RecoveryCode(user=user_id, code_hash=code_hash) for code_hash in code_hashes)
        )


async def consume_recovery_code(user_id: uuid.UUID, code_hash: str, now: dt.datetime) -> bool:
    """Mark one unused code used; False when there is none (single use under concurrency)."""
    rows = (
        await RecoveryCode.update({RecoveryCode.used_at: now})
        .where(
            (RecoveryCode.user == user_id)
            & (RecoveryCode.code_hash == code_hash)
            & RecoveryCode.used_at.is_null()
        )
        .returning(RecoveryCode.id)
    )
    return len(rows) == 1


async def unused_recovery_codes(user_id: uuid.UUID) -> int:
    count: int = await RecoveryCode.count().where(
        (RecoveryCode.user == user_id) & RecoveryCode.used_at.is_null()
    )
    return count


async def attempt_times(email: str, outcome: str, since: dt.datetime) -> list[dt.datetime]:
    rows = (
        await LoginAttempt.select(LoginAttempt.at)
        .where(
            (LoginAttempt.email == email)
            & (LoginAttempt.outcome == outcome)
            & (LoginAttempt.at >= since)
        )
        .order_by(LoginAttempt.at)
    )
    return [row["at"] for row in rows]


async def throttle_hit(bucket: str, subject: str, slot: int, expires: int) -> int:
    """Counts one hit in the window and returns the window's count: one statement, so two web
    processes counting at once both get counted (the unique index arbitrates)."""
    rows = await ThrottleCounter.raw(
        "INSERT INTO auth_throttle (id, bucket, subject, slot, hits, expires) "
        "VALUES ({}, {}, {}, {}, 1, {}) "
        "ON CONFLICT (bucket, subject, slot) DO UPDATE SET hits = auth_throttle.hits + 1 "
        "RETURNING hits",
        uuid.uuid4(),
        bucket,
        subject,
        slot,
        expires,
    )
    return int(rows[0]["hits"])


async def throttle_count(bucket: str, subject: str, slot: int) -> int:
    row = (
        await ThrottleCounter.select(ThrottleCounter.hits)
        .where(
            (ThrottleCounter.bucket == bucket)
            & (ThrottleCounter.subject == subject)
            & (ThrottleCounter.slot == slot)
        )
        .first()
    )
    return int(row["hits"]) if row else 0


async def purge_throttle(before: int) -> None:
    await ThrottleCounter.delete().where(ThrottleCounter.expires < before)
