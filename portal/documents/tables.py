"""Requested documents ("pièces attendues"), their occurrences and the uploaded versions."""

from piccolo.columns import (
    UUID,
    BigInt,
    Boolean,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.columns.base import OnDelete
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table

from portal.tenants.tables import Consortium, Organisation


class DocumentRequest(Table, tablename="documents_request"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    organisation = ForeignKey(Organisation, null=False, on_delete=OnDelete.restrict)
    title = Varchar(length=200)
    description = Text(default="")
    recurrence = Varchar(length=16)  # Recurrence
    due_on = Date(null=True, default=None)  # one-off requests
    days_after_period = Integer(default=30)  # recurring: due N days after the period ends
    starts_on = Date(null=True, default=None)  # recurring: first period covered
    # The convention it is asked for, if any: who sees the convention sees the document.
    convention = UUID(null=True, default=None)
    requested_by_organisation = UUID(null=True, default=None)
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class DocumentItem(Table, tablename="documents_item"):
    """One expected document: the single occurrence of a one-off request, or one period."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    request = ForeignKey(DocumentRequest, null=False, on_delete=OnDelete.restrict)
    organisation = ForeignKey(Organisation, null=False, on_delete=OnDelete.restrict)
    period_label = Varchar(length=50, default="")
    period_start = Date()
    due_on = Date()
    status = Varchar(length=16)  # ItemStatus
    reviewer_comment = Text(default="")
    reviewed_by = UUID(null=True, default=None)
    reviewed_at = Timestamptz(null=True, default=None)
    # Validated by the organisation that deposited it, as the consortium's settings allow.
    self_reviewed = Boolean(default=False)
    created_at = Timestamptz(default=TimestamptzNow())


class DocumentVersion(Table, tablename="documents_version"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    item = ForeignKey(DocumentItem, null=False, on_delete=OnDelete.restrict)
    number = Integer()
    filename = Varchar(length=200)  # cleaned for display, never used as a storage key
    file_type = Varchar(length=16)
    content_type = Varchar(length=120)
    size = BigInt()
    sha256 = Varchar(length=64)
    storage_key = Varchar(length=200, unique=True)
    uploaded_by = UUID()
    uploaded_by_name = Varchar(length=200)
    uploaded_at = Timestamptz(default=TimestamptzNow())
    deleted_at = Timestamptz(null=True, default=None)
    purge_after = Timestamptz(null=True, default=None)
    purged_at = Timestamptz(null=True, default=None)
