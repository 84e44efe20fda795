"""Dated obligations of a consortium (steering committee, annual report, renewal...): the first
source of reminders; requested documents and payments will add theirs."""

from piccolo.columns import UUID, Date, ForeignKey, Text, Timestamptz, Varchar
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from portal.tenants.tables import Consortium, Organisation


class Deadline(Table, tablename="deadlines_deadline"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    title = Varchar(length=200)
    description = Text(default="")
    due_on = Date()
    # Who must act; its active members are reminded (the pilots when none is set).
    organisation = ForeignKey(Organisation, null=True, on_delete=OnDelete.restrict)
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    done_at = Timestamptz(null=True, default=None)
    done_by = UUID(null=True, default=None)
