"""Who pays whom, and when: schedules (a funder's subsidy to its beneficiary, or a bailleur's
reversements to an association), their lines (échéances), the payments recorded against them,
saved export models and background exports. Every table is tenant-owned (non-null
`consortium`); amounts are integer cents."""

from piccolo.columns import (
    JSON,
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

from portal.conventions.tables import Convention
from portal.tenants.tables import Consortium, Organisation


class Schedule(Table, tablename="payments_schedule"):
    """One payer, one beneficiary, one source of money, under one signed convention."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    convention = ForeignKey(Convention, null=False, on_delete=OnDelete.restrict)
    kind = Varchar(length=16)  # ScheduleKind
    label = Varchar(length=200)
    funder = Varchar(length=24)  # conventions Funder: where the money comes from
    # The payer may be outside the consortium (the CGLLS, a département): its name is kept.
    payer_organisation = ForeignKey(Organisation, null=True, on_delete=OnDelete.restrict)
    payer_name = Varchar(length=200)
    beneficiary = ForeignKey(Organisation, null=False, on_delete=OnDelete.restrict)
    basis = Varchar(length=16)  # Basis
    # Fixed basis: the amount granted or agreed, which the lines must add up to. Results or
    # expenses: a ceiling (none when null).
    total_cents = BigInt(null=True, default=None)
    unit_cost_cents = BigInt(null=True, default=None)  # results: per unit
    unit_label = Varchar(length=100, default="ménage accompagné")
    rate_percent = Integer(default=100)  # expenses: share of justified expenses paid
    source_schedule = UUID(null=True, default=None)  # reversements: the subsidy passed on
    decision_reference = Varchar(length=120, default="")  # arrêté, décision attributive…
    revision = Integer(default=1)  # optimistic locking of edits
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Line(Table, tablename="payments_line"):
    """One échéance: an installment of a subsidy, or one reversement to an association."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    schedule = ForeignKey(Schedule, null=False, on_delete=OnDelete.restrict)
    number = Integer()
    label = Varchar(length=200)
    amount_cents = BigInt(null=True, default=None)  # results / expenses: once declared
    quantity = Integer(null=True, default=None)  # results declared
    justified_cents = BigInt(null=True, default=None)  # expenses justified
    declared_by = UUID(null=True, default=None)
    declared_at = Timestamptz(null=True, default=None)
    expected_on = Date()
    trigger = Varchar(length=16)  # Trigger
    trigger_document = UUID(null=True, default=None)  # documents item to be validated
    trigger_line = UUID(null=True, default=None)  # subsidy line to be received
    status = Varchar(length=16)  # LineStatus
    status_since = Timestamptz(default=TimestamptzNow())
    met_at = Timestamptz(null=True, default=None)  # the condition was met
    met_note = Text(default="")
    requested_on = Date(null=True, default=None)
    request_reference = Varchar(length=120, default="")
    # Kept equal to the payments (recomputed in the same transaction): exports read one row.
    paid_cents = BigInt(default=0)
    last_paid_on = Date(null=True, default=None)
    payment_references = Text(default="")


class Payment(Table, tablename="payments_payment"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    line = ForeignKey(Line, null=False, on_delete=OnDelete.restrict)
    amount_cents = BigInt()
    paid_on = Date()
    reference = Varchar(length=120)
    warnings = JSON(default="[]")  # PaymentWarning codes confirmed by the person recording
    reason = Text(default="")  # why, when there were warnings
    recorded_by = UUID(null=True, default=None)
    recorded_by_name = Varchar(length=200, default="")
    recorded_at = Timestamptz(default=TimestamptzNow())
    cancelled_at = Timestamptz(null=True, default=None)
    cancelled_by_name = Varchar(length=200, default="")
    cancel_reason = Text(default="")


class ExportModel(Table, tablename="payments_export_model"):
    """A named choice of columns (order and headings), so spreadsheets built on an export keep
    working. Unique by (consortium, name). It belongs to whoever saved it (`created_by`: only
    they replace or delete it); a pilot may share it with the whole consortium."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    name = Varchar(length=100)
    columns = JSON()  # [{"key": …, "label": …}, …] in order
    format = Varchar(length=8)  # ExportFormat
    created_by = UUID(null=True, default=None)
    shared = Boolean(default=False)  # seen by every member, not only its owner and the pilots
    created_by_name = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())


class Export(Table, tablename="payments_export"):
    """A payment-tracking file built in the background, with its progress."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    requested_by = UUID()
    requested_by_name = Varchar(length=200, default="")
    # What the requester could see when asking: the file holds those lines only.
    role = Varchar(length=32)
    organisation = UUID()
    format = Varchar(length=8)  # ExportFormat
    columns = JSON()
    filters = JSON(default="{}")
    filename = Varchar(length=200)
    status = Varchar(length=16)  # ExportStatus
    total_rows = Integer(default=0)
    done_rows = Integer(default=0)
    storage_key = Varchar(length=300, null=True, default=None)
    size = BigInt(default=0)
    error = Text(default="")
    job_id = UUID(null=True, default=None)  # the outbox job building it: tells when it retries
    created_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)
