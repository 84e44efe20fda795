"""In-app notifications and e-mail preferences. A notification belongs to a person; the
consortium it concerns, if any, is recorded for display (not a tenant table: the notification
centre lists a person's notifications across their consortia)."""

from piccolo.columns import UUID, Boolean, ForeignKey, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from portal.auth.tables import User


class Notification(Table, tablename="notifications_notification"):
    id = UUID(primary_key=True)
    user = ForeignKey(User, null=False, on_delete=OnDelete.cascade, index=True)
    consortium_id = UUID(null=True, default=None)
    kind = Varchar(length=50)
    subject = Varchar(length=200, default="", index=True)  # "<type>:<id>" of the object
    title = Varchar(length=300)
    body = Text(default="")
    link = Varchar(length=500, default="")
    essential = Boolean(default=False)
    email_status = Varchar(length=16)  # EmailStatus
    created_at = Timestamptz(default=TimestamptzNow())
    read_at = Timestamptz(null=True, default=None)
    emailed_at = Timestamptz(null=True, default=None)


class NotificationPreference(Table, tablename="notifications_preference"):
    id = UUID(primary_key=True)
    user = ForeignKey(User, null=False, unique=True, on_delete=OnDelete.cascade)
    email_mode = Varchar(length=16)  # EmailMode
    unsubscribed = Boolean(default=False)  # no non-essential e-mail at all
    updated_at = Timestamptz(default=TimestamptzNow())
