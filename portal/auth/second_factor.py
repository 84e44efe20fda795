"""Second factor: TOTP codes (RFC 6238, any authenticator app) and single-use recovery codes.

Who must have one: platform administrators, before any admin page; the pilots of a consortium
whose settings require it, before entering that space. Anyone else may enrol from
« Sécurité du compte ».

Login: the password opens a *pending* session, which shows no page (the session middleware sees
nobody) except the code step, `/login/code`. The right code replaces it with a full session under
a new token. OpenID Connect logins go through the same step when the person has enrolled: we
cannot tell whether a provider asked for a second factor (its `amr` claim is optional and not
standardised), and the rule for administrators and pilots must hold whatever the first factor.

- Enrolment shows the secret (QR code rendered here as inline SVG, and as text) until the person
  types a first valid code; after that it is never shown again. It is stored encrypted under a
  key derived from the secret key: a copy of the database alone does not give the codes.
- Replay: each accepted code records its 30-second time step; a step at or before the last one is
  refused, so an observed code cannot be used again within its window.
- Recovery codes: 10, shown once at enrolment, kept as hashes; using one consumes it.
- Throttle: 5 wrong codes for one account within 15 minutes block the code step for 15 minutes
  and end the pending session; the password step's own lock is untouched.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken

from portal.audit import service as audit
from portal.audit.enums import AuditTag
from portal.auth import repository
from portal.auth.enums import LoginOutcome
from portal.auth.service import AuthError, CurrentUser
from portal.core import clock, security
from portal.core.actor import Actor
from portal.core.db import transaction
from portal.settings import get_settings

ISSUER = "Portail des partenariats"
PENDING_LIFETIME = dt.timedelta(minutes=10)
MAX_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
RECOVERY_CODES = 10
# No 0/o, 1/l/i: codes are copied by hand from paper.
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
_RECOVERY_LENGTH = 10
_TOTP_CODE = re.compile(r"[0-9]{6}")

WRONG_CODE = "Code incorrect. Saisissez le code à 6 chiffres affiché par votre application."
WRONG_LOGIN_CODE = (
    "Code incorrect. Saisissez le code à 6 chiffres affiché par votre application, "
    "ou l'un de vos codes de secours."
)
REPLAYED_CODE = "Ce code a déjà été utilisé. Attendez le suivant (30 secondes au plus)."
LOCKED = (
    "Trop de codes erronés pour ce compte. Par sécurité, la vérification est bloquée pendant "
    "15 minutes. Reconnectez-vous plus tard."
)


class SecondFactorError(AuthError):
    pass


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows while the secret is not yet confirmed."""

    secret: str  # grouped by 4 for typing by hand
    qr_svg: str


def _fernet() -> Fernet:
    digest = hashlib.sha256(("totp-secret:" + get_settings().secret_key).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_secret(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def _decrypt_secret(stored: str) -> str:
    try:
        return _fernet().decrypt(stored.encode()).decode()
    except InvalidToken as exc:  # the secret key changed: the person must enrol again
        raise SecondFactorError(
            "Votre double authentification doit être réactivée : contactez un administrateur."
        ) from exc


def _recovery_hash(code: str) -> str:
    return security.token_hash("recovery:" + code)


def _normalise(raw: str) -> str:
    return re.sub(r"[\s-]", "", raw).lower()


def _matching_step(secret: str, code: str, at: dt.datetime) -> int | None:
    """The time step (current, previous or next, for clock drift) whose code is `code`."""
    if not _TOTP_CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(at)
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


async def _row(user_id: uuid.UUID) -> dict[str, object]:
    row = await repository.user_by_id(user_id)
    if row is None:
        raise SecondFactorError("Compte introuvable.")
    return row


# Enrolment ----------------------------------------------------------------------------------


async def start_enrolment(user: CurrentUser) -> None:
    """A new secret, not yet in force. Refused once one is confirmed (disable it first)."""
    row = await _row(user.id)
    if row["totp_confirmed_at"] is not None:
        raise SecondFactorError("La double authentification est déjà activée sur ce compte.")
    await repository.update_user(
        user.id, totp_secret=encrypt_secret(pyotp.random_base32()), totp_last_step=0
    )


async def enrolment(user: CurrentUser) -> Enrolment | None:
    """The secret to scan, or None when there is no enrolment under way."""
    row = await _row(user.id)
    if row["totp_confirmed_at"] is not None or not row["totp_secret"]:
        return None
    secret = _decrypt_secret(str(row["totp_secret"]))
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrolment(
        secret=" ".join(secret[i : i + 4] for i in range(0, len(secret), 4)),
        qr_svg=segno.make(uri, error="m").svg_inline(scale=5, title="QR code à scanner"),
    )


async def confirm_enrolment(actor: Actor, user: CurrentUser, raw_code: str) -> list[str]:
    """Puts the secret in force once a first code matches; returns the recovery codes, which
    only this answer ever shows."""
    row = await _row(user.id)
    if row["totp_confirmed_at"] is not None or not row["totp_secret"]:
        raise SecondFactorError("Aucune activation en cours : recommencez.")
    at = clock.now()
    step = _matching_step(_decrypt_secret(str(row["totp_secret"])), _normalise(raw_code), at)
    if step is None:
        raise SecondFactorError(WRONG_CODE, "code")
    async with transaction():
        if not await repository.claim_totp_step(user.id, step):
            raise SecondFactorError(REPLAYED_CODE, "code")
        await repository.update_user(user.id, totp_confirmed_at=at)
        codes = await _new_recovery_codes(user.id)
        await _record(AuditTag.SECOND_FACTOR_ENABLED, actor, user)
    return codes


async def _new_recovery_codes(user_id: uuid.UUID) -> list[str]:
    codes = [
        "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(_RECOVERY_LENGTH))
        for _ in range(RECOVERY_CODES)
    ]
    await repository.replace_recovery_codes(user_id, [_recovery_hash(c) for c in codes])
    half = _RECOVERY_LENGTH // 2
    return [f"{c[:half]}-{c[half:]}" for c in codes]


async def renew_recovery_codes(actor: Actor, user: CurrentUser, raw_code: str) -> list[str]:
    """New codes (the old ones stop working), against a current code from the app."""
    await _check_totp(actor, user, raw_code)
    async with transaction():
        return await _new_recovery_codes(user.id)


async def disable(actor: Actor, user: CurrentUser, raw_code: str) -> None:
    await _check_totp(actor, user, raw_code)
    async with transaction():
        await repository.update_user(
            user.id, totp_secret=None, totp_confirmed_at=None, totp_last_step=0
        )
        await repository.replace_recovery_codes(user.id, [])
        await _record(AuditTag.SECOND_FACTOR_DISABLED, actor, user)


async def remaining_recovery_codes(user: CurrentUser) -> int:
    return await repository.unused_recovery_codes(user.id)


async def confirmed_at(user: CurrentUser) -> dt.datetime | None:
    value = (await _row(user.id))["totp_confirmed_at"]
    return value if isinstance(value, dt.datetime) else None


# Login --------------------------------------------------------------------------------------


async def _locked(email: str, at: dt.datetime) -> bool:
    failures = await repository.attempt_times(
        email, LoginOutcome.SECOND_FACTOR_FAILED, at - FAILURE_WINDOW
    )
    return len(failures) >= MAX_FAILURES


async def _check_totp(actor: Actor, user: CurrentUser, raw_code: str) -> None:
    """A current code from the app, for changes made from a signed-in session (a stolen
    session must not be enough to turn the second factor off). Throttled like the login; call
    it outside a transaction, or the failure it records would be rolled back with it."""
    row = await _row(user.id)
    if row["totp_confirmed_at"] is None or not row["totp_secret"]:
        raise SecondFactorError("La double authentification n'est pas activée sur ce compte.")
    at = clock.now()
    if await _locked(user.email, at):
        raise SecondFactorError(LOCKED, "code")
    step = _matching_step(_decrypt_secret(str(row["totp_secret"])), _normalise(raw_code), at)
    if step is None:
        await repository.insert_attempt(user.email, LoginOutcome.SECOND_FACTOR_FAILED, actor.ip, at)
        raise SecondFactorError(WRONG_CODE, "code")
    if not await repository.claim_totp_step(user.id, step):
        raise SecondFactorError(REPLAYED_CODE, "code")


async def verify_login(actor: Actor, user: CurrentUser, raw_code: str) -> None:
    """Accepts a current TOTP code or an unused recovery code; raises with a French message.
    A `SecondFactorError` without a field means the code step is locked: start again later."""
    at = clock.now()
    ip = actor.ip
    if await _locked(user.email, at):
        await _record(AuditTag.SECOND_FACTOR_LOCKED, actor, user)
        raise SecondFactorError(LOCKED)
    code = _normalise(raw_code)
    row = await _row(user.id)
    problem = WRONG_LOGIN_CODE
    if _TOTP_CODE.fullmatch(code):
        step = _matching_step(_decrypt_secret(str(row["totp_secret"])), code, at)
        if step is not None:
            if await repository.claim_totp_step(user.id, step):
                await _succeeded(actor, user, "totp")
                return
            problem = REPLAYED_CODE
    elif code and await repository.consume_recovery_code(user.id, _recovery_hash(code), at):
        await _record(AuditTag.RECOVERY_CODE_USED, actor, user)
        await _succeeded(actor, user, "recovery_code")
        return
    await repository.insert_attempt(user.email, LoginOutcome.SECOND_FACTOR_FAILED, ip, at)
    await _record(AuditTag.SECOND_FACTOR_FAILED, actor, user)
    if await _locked(user.email, at):
        raise SecondFactorError(LOCKED)
    raise SecondFactorError(problem, "code")


async def _succeeded(actor: Actor, user: CurrentUser, method: str) -> None:
    await _record(AuditTag.SECOND_FACTOR_SUCCEEDED, actor, user, method=method)


async def _record(tag: AuditTag, actor: Actor, user: CurrentUser, **details: Any) -> None:
    # During login the session does not hold the person yet: the audit names them anyway.
    await audit.record(tag, actor.identified(user.id, user.email), **details)
