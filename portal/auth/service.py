"""Accounts and sessions: password login with the brute-force rule, password reset, admins.

Brute force: 5 failed attempts on one e-mail from one address within 15 minutes lock that
(account, address) pair for 15 minutes from the fifth failure, even for the right password; 50
failures on the account from all addresses together lock it for everyone the same way (the
ceiling). So someone failing on purpose cannot keep the owner locked out from elsewhere, and
`throttle` blocks their address anyway. Attempts refused during a lock are logged but do not
count, so the lock ends on time. Attempts are kept per e-mail whether an account exists or not.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email
from starlette.responses import Response

from portal.audit import service as audit
from portal.audit.enums import AuditTag
from portal.auth import jobs, repository, throttle
from portal.auth.enums import LoginOutcome
from portal.core import clock, mail, security
from portal.core.actor import Actor
from portal.core.db import transaction
from portal.core.forms import FieldError
from portal.jobs import service as job_service
from portal.jobs.enums import Delivery
from portal.settings import get_settings

MAX_FAILURES = 5  # per (account, address)
ACCOUNT_CEILING = 50  # per account, all addresses together
FAILURE_WINDOW = dt.timedelta(minutes=15)
LOCK_DURATION = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=12)
RESET_LIFETIME = dt.timedelta(hours=1)

LOCKED_MESSAGE = (
    "Trop de tentatives de connexion ont échoué pour ce compte. Par sécurité, la connexion "
    "est bloquée pendant 15 minutes. Réessayez plus tard ou réinitialisez votre mot de passe."
)
FAILED_MESSAGE = "Adresse e-mail ou mot de passe incorrect."


@dataclass(frozen=True)
class CurrentUser:
    id: uuid.UUID
    email: str
    full_name: str
    is_platform_admin: bool
    has_second_factor: bool = False  # a confirmed TOTP: see second_factor.py


class AuthError(FieldError):
    pass


def normalise_email(raw: str) -> str | None:
    """Lower-cased, syntax-checked address, or None."""
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def lock_ends(failures: list[dt.datetime], run: int = MAX_FAILURES) -> dt.datetime | None:
    """End of the lock set by the most recent `run` failures within 15 minutes, if any."""
    end = None
    for i in range(run - 1, len(failures)):
        if failures[i] - failures[i - run + 1] <= FAILURE_WINDOW:
            end = failures[i] + LOCK_DURATION
    return end


async def locked_until(email: str, at: dt.datetime, ip: str) -> dt.datetime | None:
    """The lock of this (account, address) pair, or the account's global ceiling: a stranger
    failing on purpose locks out only their own address, unless they fail from many."""
    since = at - FAILURE_WINDOW - LOCK_DURATION
    ends = [
        lock_ends(await repository.failure_times(email, since), ACCOUNT_CEILING),
        lock_ends(await repository.failure_times(email, since, ip)),
    ]
    end = max((e for e in ends if e is not None), default=None)
    return end if end is not None and end > at else None


async def authenticate(actor: Actor, raw_email: str, password: str) -> CurrentUser:
    """`actor`: the anonymous visitor; the audit names the account they tried."""
    email = normalise_email(raw_email) or raw_email.strip().lower()[:254]
    ip = actor.ip
    at = clock.now()
    if await locked_until(email, at, ip):
        await repository.insert_attempt(email, LoginOutcome.LOCKED, ip, at)
        await audit.record(AuditTag.LOGIN_LOCKED, actor.identified(None, email))
        raise AuthError(LOCKED_MESSAGE)
    row = await repository.user_by_email(email)
    ok = security.verify_password(row["password_hash"] if row else None, password)
    if not (row and ok and row["is_active"]):
        await repository.insert_attempt(email, LoginOutcome.FAILED, ip, at)
        await audit.record(AuditTag.LOGIN_FAILED, actor.identified(None, email))
        if await locked_until(email, at, ip):
            raise AuthError(LOCKED_MESSAGE)
        raise AuthError(FAILED_MESSAGE)
    await repository.insert_attempt(email, LoginOutcome.SUCCEEDED, ip, at)
    await audit.record(AuditTag.LOGIN_SUCCEEDED, actor.identified(row["id"], email))
    return _current(row)


def _current(row: dict[str, object]) -> CurrentUser:
    return CurrentUser(
        id=row["id"],  # type: ignore[arg-type]
        email=str(row["email"]),
        full_name=str(row["full_name"]),
        is_platform_admin=bool(row["is_platform_admin"]),
        has_second_factor=row.get("totp_confirmed_at") is not None,
    )


async def start_session(
    user_id: uuid.UUID, pending: bool = False, lifetime: dt.timedelta = SESSION_LIFETIME
) -> str:
    """A new session token (the cookie value); only its hash is stored. A `pending` session
    waits for the second factor and opens no page."""
    token = security.new_token()
    await repository.insert_session(
        user_id, security.token_hash(token), clock.now() + lifetime, pending=pending
    )
    return token


async def end_session(token: str) -> None:
    await repository.delete_session(security.token_hash(token))


async def user_for_session(token: str, pending: bool = False) -> CurrentUser | None:
    """`pending`: the user of a session still waiting for its second factor."""
    row = await repository.session_user(security.token_hash(token), clock.now(), pending)
    if row is None or not row["user.is_active"]:
        return None
    return CurrentUser(
        id=row["user.id"],
        email=row["user.email"],
        full_name=row["user.full_name"],
        is_platform_admin=row["user.is_platform_admin"],
        has_second_factor=row["user.totp_confirmed_at"] is not None,
    )


async def user_by_email(email: str) -> CurrentUser | None:
    row = await repository.user_by_email(email)
    return _current(row) if row else None


async def request_password_reset(actor: Actor, raw_email: str) -> None:
    """Sends a single-use link if the account exists; says nothing either way."""
    email = normalise_email(raw_email)
    if email is None:
        raise AuthError(
            "Saisissez une adresse e-mail valide, par exemple nom@organisme.fr.", "email"
        )
    row = await repository.user_by_email(email)
    if row is None or not row["is_active"]:
        return
    token_id = uuid.uuid4()
    token = _reset_token(token_id)
    async with transaction():
        # Only the latest link works: an older e-mail left in a mailbox opens nothing.
        await repository.revoke_reset_tokens(row["id"], clock.now())
        await repository.insert_reset_token(
            token_id, row["id"], security.token_hash(token), clock.now() + RESET_LIFETIME
        )
        await audit.record(AuditTag.PASSWORD_RESET_REQUESTED, actor.identified(row["id"], email))
        await jobs.enqueue_password_reset_email(token_id)


def _reset_token(token_id: uuid.UUID) -> str:
    return security.derived_token(get_settings().secret_key, "password-reset", token_id)


async def send_password_reset_email(token_id: uuid.UUID) -> None:
    """The job behind `request_password_reset`; nothing is sent for a used or expired link."""
    row = await repository.reset_token_with_user(token_id)
    if row is None or row["used_at"] is not None or row["expires_at"] <= clock.now():
        return
    settings = get_settings()
    link = f"{settings.base_url}/mot-de-passe/{_reset_token(token_id)}"
    message = mail.build_message(
        settings,
        row["email"],
        "Réinitialisation de votre mot de passe",
        "password_reset",
        {"name": row["full_name"], "link": link},
    )
    await job_service.deliver_once(f"password-reset:{token_id}", message, Delivery.AT_LEAST_ONCE)


async def reset_token_is_valid(token: str) -> bool:
    return await repository.valid_reset_token(security.token_hash(token), clock.now()) is not None


async def reset_password(actor: Actor, token: str, password: str) -> None:
    found = await repository.valid_reset_token(security.token_hash(token), clock.now())
    person = await repository.user_by_id(found["user"]) if found else None
    inputs = (person["email"], person["full_name"]) if person else ()
    problem = security.password_problem(password, inputs)
    if problem:
        raise AuthError(problem, "password")
    async with transaction():
        row = await repository.valid_reset_token(security.token_hash(token), clock.now())
        if row is None or not await repository.consume_reset_token(row["id"], clock.now()):
            raise AuthError(
                "Ce lien n'est plus valable. Demandez un nouveau lien de réinitialisation."
            )
        # Any other link sent before this reset must not reopen the account.
        await repository.revoke_reset_tokens(row["user"], clock.now())
        await repository.update_user(row["user"], password_hash=security.hash_password(password))
        # A reset means the old password may be known to someone else: close every session.
        await repository.delete_sessions_of(row["user"])
        await audit.record(AuditTag.PASSWORD_RESET_DONE, actor.identified(row["user"], ""))


async def create_user(email: str, full_name: str, password: str | None) -> uuid.UUID:
    if password is not None:
        problem = security.password_problem(password, (email, full_name))
        if problem:
            raise AuthError(problem, "password")
    return await repository.insert_user(
        email, full_name, security.hash_password(password) if password else None
    )


async def create_admin(raw_email: str, full_name: str, password: str) -> uuid.UUID:
    email = normalise_email(raw_email)
    if email is None:
        raise AuthError("Adresse e-mail invalide.", "email")
    problem = security.password_problem(password, (email, full_name))
    if problem:
        raise AuthError(problem, "password")
    async with transaction():
        existing = await repository.user_by_email(email)
        if existing:
            await repository.update_user(
                existing["id"],
                is_platform_admin=True,
                password_hash=security.hash_password(password),
            )
            user_id: uuid.UUID = existing["id"]
        else:
            user_id = await repository.insert_user(
                email, full_name, security.hash_password(password), is_platform_admin=True
            )
        await audit.record(AuditTag.ADMIN_CREATED, Actor.system(user_id, email))
    return user_id


async def user_for_identity(provider: str, subject: str) -> CurrentUser | None:
    row = await repository.identity_user(provider, subject)
    if row is None:
        return None
    user = await repository.user_by_id(row["user"])
    return _current(user) if user and user["is_active"] else None


async def link_identity(provider: str, subject: str, user_id: uuid.UUID, email: str) -> None:
    await repository.insert_identity(provider, subject, user_id, email)


# For the other domains' pages: throttling per address (logging in is `web.log_in`) ----------------


def client_address(scope: Any) -> str:
    """The address requests are counted under (see `throttle.client_address`)."""
    return throttle.client_address(scope)


async def throttle_hit(bucket: str, key: str, limit: int, window: dt.timedelta) -> throttle.Count:
    """One more request from `key` in `bucket`: `over` once past `limit` in `window`."""
    return await throttle.hit(bucket, key, limit, window)


def retry_after(response: Response, count: throttle.Count) -> Response:
    """The refusal's Retry-After header."""
    return throttle.retry_after(response, count)
