"""Queries on notifications and preferences; every read is scoped to its owner."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from piccolo.query.mixins import OnConflictAction

from portal.core.prepared import prepared
from portal.notifications.enums import EmailStatus
from portal.notifications.tables import Notification, NotificationPreference

Row = dict[str, Any]


async def insert(
    *,
    user_id: uuid.UUID,
    consortium_id: uuid.UUID | None,
    kind: str,
    subject: str,
    title: str,
    body: str,
    link: str,
    essential: bool,
    email_status: EmailStatus,
) -> uuid.UUID:
    notification = Notification(
        user=user_id,
        consortium_id=consortium_id,
        kind=kind,
        subject=subject,
        title=title,
        body=body,
        link=link,
        essential=essential,
        email_status=email_status,
    )
    await notification.save()
    return notification.id


async def get(notification_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await Notification.select(
            *Notification.all_columns(),
            Notification.user.email.as_alias("email"),
            Notification.user.full_name.as_alias("full_name"),
        )
        .where(Notification.id == notification_id)
        .first()
    )
    return row


async def of_user(user_id: uuid.UUID, limit: int) -> list[Row]:
    rows: list[Row] = (
        await Notification.select()
        .where(Notification.user == user_id)
        .order_by(Notification.created_at, ascending=False)
        .limit(limit)
    )
    return rows


async def one_of_user(user_id: uuid.UUID, notification_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await Notification.select()
        .where((Notification.user == user_id) & (Notification.id == notification_id))
        .first()
    )
    return row


# In the layout of every page: built once (`portal.core.prepared`).
_UNREAD = prepared(
    lambda p: Notification.count().where(
        (Notification.user == p.user_id) & Notification.read_at.is_null()
    )
)


async def unread_count(user_id: uuid.UUID) -> int:
    count: int = await _UNREAD(user_id=user_id)
    return count


async def mark_read(
    user_id: uuid.UUID, notification_id: uuid.UUID | None, now: dt.datetime
) -> None:
    condition = (Notification.user == user_id) & Notification.read_at.is_null()
    if notification_id is not None:
        condition &= Notification.id == notification_id
    await Notification.update({Notification.read_at: now}).where(condition)


async def mark_emailed(
    notification_ids: list[uuid.UUID], from_status: EmailStatus, now: dt.datetime
) -> int:
    if not notification_ids:
        return 0
    rows = (
        await Notification.update(
            {Notification.email_status: EmailStatus.SENT, Notification.emailed_at: now}
        )
        .where(Notification.id.is_in(notification_ids) & (Notification.email_status == from_status))
        .returning(Notification.id)
    )
    return len(rows)


async def mark_read_about(subject: str, now: dt.datetime) -> int:
    rows = (
        await Notification.update({Notification.read_at: now})
        .where((Notification.subject == subject) & Notification.read_at.is_null())
        .returning(Notification.id)
    )
    return len(rows)


async def withdraw(subject: str) -> int:
    rows = (
        await Notification.update({Notification.email_status: EmailStatus.WITHDRAWN})
        .where(
            (Notification.subject == subject)
            & Notification.email_status.is_in([EmailStatus.PENDING, EmailStatus.DIGEST])
        )
        .returning(Notification.id)
    )
    return len(rows)


async def awaiting_digest(user_id: uuid.UUID) -> list[Row]:
    rows: list[Row] = (
        await Notification.select()
        .where((Notification.user == user_id) & (Notification.email_status == EmailStatus.DIGEST))
        .order_by(Notification.created_at)
    )
    return rows


async def users_awaiting_digest() -> list[uuid.UUID]:
    rows = (
        await Notification.select(Notification.user)
        .where(Notification.email_status == EmailStatus.DIGEST)
        .distinct()
    )
    return [r["user"] for r in rows]


async def preference(user_id: uuid.UUID) -> Row | None:
    row: Row | None = (
        await NotificationPreference.select().where(NotificationPreference.user == user_id).first()
    )
    return row


async def save_preference(
    user_id: uuid.UUID, email_mode: str, unsubscribed: bool, now: dt.datetime
) -> None:
    await NotificationPreference.insert(
        NotificationPreference(
            user=user_id, email_mode=email_mode, unsubscribed=unsubscribed, updated_at=now
        )
    ).on_conflict(
        target=NotificationPreference.user,
        action=OnConflictAction.do_update,
        values=[
            NotificationPreference.email_mode,
            NotificationPreference.unsubscribed,
            NotificationPreference.updated_at,
        ],
    )
