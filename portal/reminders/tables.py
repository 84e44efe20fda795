from piccolo.columns import UUID, Array, Boolean, ForeignKey, Integer, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from portal.tenants.tables import Consortium


class ReminderPolicy(Table, tablename="reminders_policy"):
    """A consortium's own reminder offsets; the default applies when it has none."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, unique=True, on_delete=OnDelete.restrict)
    before_days = Array(Integer())
    overdue_first = Integer(default=1)
    overdue_every = Integer(default=7)
    overdue_max = Integer(default=4)
    escalate = Boolean(default=True)
    updated_at = Timestamptz(default=TimestamptzNow())


class ReminderSent(Table, tablename="reminders_sent"):
    """One row per (object, recipient, step): the unique index is what stops duplicates, even
    with several workers scanning at once."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    subject = Varchar(length=200)
    recipient = UUID()
    step = Varchar(length=32)
    sent_at = Timestamptz(default=TimestamptzNow())
