"""Notifications: in the portal at once, by e-mail according to each person's preference.

Non-essential e-mails (reminders, news of the consortium) are never sent during the quiet
hours (`PORTAL_QUIET_HOURS`, 20:00 to 08:00 Europe/Paris by default): they are held until
their end. They carry a one-click unsubscribe link
(RFC 8058). Essential ones (password reset, invitation) are not notifications: they go out
at once through their own jobs.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

from itsdangerous import BadSignature, URLSafeSerializer

from portal.core import clock, mail
from portal.core import periodic as units
from portal.jobs import service as job_service
from portal.jobs.enums import Delivery
from portal.notifications import jobs, repository
from portal.notifications.enums import EmailMode, EmailStatus
from portal.settings import get_settings

PARIS = ZoneInfo("Europe/Paris")
DIGEST_FROM = dt.time(8, 0)  # with no quiet hours; otherwise at their end


def next_sending_time(at: dt.datetime) -> dt.datetime:
    """`at` itself outside the quiet hours; otherwise their end, in Paris."""
    hours = get_settings().quiet_hours
    if hours is None:
        return at
    start, end = hours
    local = at.astimezone(PARIS)
    minute = local.hour * 60 + local.minute
    overnight = start > end  # 20:00-08:00 runs past midnight
    quiet = (minute >= start or minute < end) if overnight else start <= minute < end
    if not quiet:
        return at
    day = local.date() + dt.timedelta(days=1 if overnight and minute >= start else 0)
    until = dt.time(end // 60, end % 60)
    return dt.datetime.combine(day, until, tzinfo=PARIS).astimezone(dt.UTC)


@dataclass(frozen=True)
class Preference:
    email_mode: EmailMode
    unsubscribed: bool


async def preference(user_id: uuid.UUID) -> Preference:
    row = await repository.preference(user_id)
    if row is None:
        return Preference(EmailMode.IMMEDIATE, False)
    return Preference(EmailMode(row["email_mode"]), bool(row["unsubscribed"]))


async def save_preference(user_id: uuid.UUID, email_mode: EmailMode, unsubscribed: bool) -> None:
    await repository.save_preference(user_id, email_mode, unsubscribed, clock.now())


async def notify(
    user_ids: list[uuid.UUID],
    *,
    kind: str,
    title: str,
    body: str = "",
    link: str = "",
    subject: str = "",
    consortium_id: uuid.UUID | None = None,
    at: dt.datetime | None = None,
) -> list[uuid.UUID]:
    """Creates one notification per person (call it inside the caller's transaction) and
    schedules its e-mail as each person prefers."""
    at = at or clock.now()
    created = []
    for user_id in user_ids:
        pref = await preference(user_id)
        if pref.unsubscribed:
            status = EmailStatus.SKIPPED
        elif pref.email_mode == EmailMode.DIGEST:
            status = EmailStatus.DIGEST
        else:
            status = EmailStatus.PENDING
        notification_id = await repository.insert(
            user_id=user_id,
            consortium_id=consortium_id,
            kind=kind,
            subject=subject,
            title=title,
            body=body,
            link=link,
            essential=False,
            email_status=status,
        )
        if status == EmailStatus.PENDING:
            await jobs.enqueue_email(notification_id, next_sending_time(at))
        created.append(notification_id)
    return created


async def withdraw(subject: str) -> int:
    """The thing is done: e-mails not yet sent about it will not be."""
    return await repository.withdraw(subject)


async def settle(subject: str) -> int:
    """Someone took the thing in hand for everyone notified about it (an alert acknowledged
    by the organisation it was sent to): its e-mails are withdrawn and the notifications no
    longer count as unread. Returns how many were unread."""
    await repository.withdraw(subject)
    return await repository.mark_read_about(subject, clock.now())


def unsubscribe_token(user_id: uuid.UUID) -> str:
    return URLSafeSerializer(get_settings().secret_key, salt="unsubscribe").dumps(str(user_id))


def user_for_unsubscribe_token(token: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(
            URLSafeSerializer(get_settings().secret_key, salt="unsubscribe").loads(token)
        )
    except (BadSignature, ValueError):
        return None


async def unsubscribe(token: str) -> bool:
    user_id = user_for_unsubscribe_token(token)
    if user_id is None:
        return False
    pref = await preference(user_id)
    await repository.save_preference(user_id, pref.email_mode, True, clock.now())
    return True


def unsubscribe_link(user_id: uuid.UUID) -> str:
    return f"{get_settings().base_url}/desabonnement/{unsubscribe_token(user_id)}"


def _non_essential_message(
    to: str, subject: str, name: str, items: list[dict[str, Any]], user_id: uuid.UUID
) -> EmailMessage:
    """A non-essential e-mail: RFC 8058 one-click unsubscribe headers and link."""
    link = unsubscribe_link(user_id)
    message = mail.build_message(
        get_settings(),
        to,
        subject,
        "notification",
        {"name": name, "items": items, "unsubscribe": link},
    )
    message["List-Unsubscribe"] = f"<{link}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


async def send_email(notification_id: uuid.UUID) -> None:
    """The e-mail job of one notification; nothing goes out for a withdrawn one, or for someone
    who unsubscribed or switched to the digest meanwhile."""
    row = await repository.get(notification_id)
    if row is None or row["email_status"] != EmailStatus.PENDING:
        return
    pref = await preference(row["user"])
    if pref.unsubscribed or pref.email_mode == EmailMode.DIGEST:
        return
    message = _non_essential_message(
        row["email"], row["title"], row["full_name"], [row], row["user"]
    )
    await job_service.deliver_once(
        f"notification:{notification_id}", message, Delivery.AT_MOST_ONCE
    )
    await repository.mark_emailed([notification_id], EmailStatus.PENDING, clock.now())


async def schedule_digests(at: dt.datetime) -> int:
    """From the end of the quiet hours (08:00 Paris), one digest job per person with
    notifications waiting (idempotent)."""
    local = at.astimezone(PARIS)
    hours = get_settings().quiet_hours
    start = dt.time(hours[1] // 60, hours[1] % 60) if hours else DIGEST_FROM
    if local.time() < start:
        return 0
    scheduled = 0
    for user_id in await repository.users_awaiting_digest():
        async with units.unit("résumés quotidiens", user=user_id):
            await jobs.enqueue_digest(user_id, local.date())
            scheduled += 1
    return scheduled


async def send_digest(user_id: uuid.UUID, day: dt.date) -> None:
    items = await repository.awaiting_digest(user_id)
    pref = await preference(user_id)
    if not items or pref.unsubscribed:
        return
    first = await repository.get(items[0]["id"])
    assert first is not None
    count = len(items)
    subject = f"Votre résumé du {day:%d/%m/%Y} : {count} notification{'s' if count > 1 else ''}"
    message = _non_essential_message(first["email"], subject, first["full_name"], items, user_id)
    await job_service.deliver_once(
        f"digest:{user_id}:{day.isoformat()}", message, Delivery.AT_MOST_ONCE
    )
    await repository.mark_emailed([i["id"] for i in items], EmailStatus.DIGEST, clock.now())


async def unread_count(user_id: uuid.UUID) -> int:
    return await repository.unread_count(user_id)


async def of_user(user_id: uuid.UUID, limit: int = 100) -> list[dict[str, Any]]:
    return await repository.of_user(user_id, limit)


async def open_one(user_id: uuid.UUID, notification_id: uuid.UUID) -> dict[str, Any] | None:
    """Marks it read and returns it (None when it is not this person's)."""
    row = await repository.one_of_user(user_id, notification_id)
    if row is not None:
        await repository.mark_read(user_id, notification_id, clock.now())
    return row


async def mark_all_read(user_id: uuid.UUID) -> None:
    await repository.mark_read(user_id, None, clock.now())
