"""Signature requests on a frozen convention version: participants in ordered steps, every
revision of the PDF (never overwritten), the hash-chained audit trail, reminders sent and the
daily time-stamps of the chain heads. Tenant-owned rows carry a non-null `consortium`."""

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


class SignatureRequest(Table, tablename="signing_request"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    convention = ForeignKey(Convention, null=False, on_delete=OnDelete.restrict)
    # The frozen conventions_version being signed: on PostgreSQL a foreign key (consortium,
    # version) holds it to a version of the same consortium (migration signing 2026-12-01T20:00:06).
    version = UUID()
    status = Varchar(length=16)  # RequestStatus
    current_step = Integer(default=1)
    step_opened_at = Timestamptz(null=True, default=None)
    steps = Integer(default=1)
    external_steps = JSON(default="[]")  # step numbers signed in the signer's own tool
    expires_on = Date()
    reminder_days = JSON(default="[3, 7]")  # then weekly until expiry
    timestamped = Boolean(default=False)  # a time-stamping authority was configured
    seal_label = Varchar(length=300, default="")
    closing = Varchar(length=16, default="")  # "" | "pending": completion work still to do
    certificate_key = Varchar(length=300, null=True, default=None)
    certificate_sha256 = Varchar(length=64, default="")
    created_by = UUID(null=True, default=None)
    created_by_name = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())
    completed_at = Timestamptz(null=True, default=None)
    closed_reason = Text(default="")
    # The audit chain's length and head, written with each append: removing the last events
    # leaves a chain that still links, but no longer reaches this head.
    chain_length = Integer(default=0)
    chain_head = Varchar(length=64, default="")


class Participant(Table, tablename="signing_participant"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    request = ForeignKey(SignatureRequest, null=False, on_delete=OnDelete.restrict)
    step = Integer()
    role = Varchar(length=16)  # ParticipantRole
    organisation = ForeignKey(Organisation, null=True, on_delete=OnDelete.restrict)
    organisation_name = Varchar(length=200, default="")
    party_index = Integer(default=0)  # 1-based signature block of the PDF; 0: none
    name = Varchar(length=200)
    title = Varchar(length=200, default="")
    email = Varchar(length=320)
    user_id = UUID(null=True, default=None)
    field_name = Varchar(length=80, default="")
    # The link's token is HMAC(secret key, nonce, id): random, stored only as its hash, and
    # re-derivable by the server for reminders; replacing a participant kills its link.
    token_nonce = Varchar(length=64)
    token_hash = Varchar(length=64, unique=True)
    opened_at = Timestamptz(null=True, default=None)
    status = Varchar(length=16)  # ParticipantStatus
    position = Integer(default=0)
    code_hash = Varchar(length=64, default="")
    code_expires_at = Timestamptz(null=True, default=None)
    code_failures = Integer(default=0)
    consent_at = Timestamptz(null=True, default=None)
    mark_kind = Varchar(length=16, default="")  # typed | drawn
    mark_text = Varchar(length=200, default="")
    mark_image = Text(default="")  # PNG data URL of a drawn mark
    submitted_at = Timestamptz(null=True, default=None)  # consented, signature being applied
    done_at = Timestamptz(null=True, default=None)
    decline_reason = Text(default="")
    replaced_by = UUID(null=True, default=None)
    replaced_reason = Text(default="")
    delegated_from = UUID(null=True, default=None)
    revision = Integer(null=True, default=None)  # the PDF revision holding the signature
    certificate_subject = Text(default="")  # external signatures
    certificate_issuer = Text(default="")
    certificate_qualified = Boolean(default=False)
    last_manual_reminder_on = Date(null=True, default=None)
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=400, default="")


class Revision(Table, tablename="signing_revision"):
    """One stored state of the PDF; number 0 is the frozen version. Rows are never updated."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    request = ForeignKey(SignatureRequest, null=False, on_delete=OnDelete.restrict)
    number = Integer()
    kind = Varchar(length=24)  # RevisionKind
    participant = UUID(null=True, default=None)
    storage_key = Varchar(length=300)
    sha256 = Varchar(length=64)
    size = BigInt()
    created_at = Timestamptz(default=TimestamptzNow())


class Event(Table, tablename="signing_event"):
    """Append-only audit trail, hash-chained per request: hash = SHA-256(prev_hash + canonical
    JSON of the event). The unique (request, seq) index makes appends a single chain."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    request = ForeignKey(SignatureRequest, null=False, on_delete=OnDelete.restrict)
    seq = Integer()
    at = Timestamptz()
    kind = Varchar(length=32)  # EventKind
    participant = UUID(null=True, default=None)
    actor = Varchar(length=400, default="")
    ip = Varchar(length=64, default="")
    user_agent = Varchar(length=400, default="")
    document_sha256 = Varchar(length=64, default="")
    details = JSON(default="{}")
    prev_hash = Varchar(length=64)
    hash = Varchar(length=64)


class Reminder(Table, tablename="signing_reminder"):
    """One row per reminder sent; the unique (participant, key) index stops a second one."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    participant = ForeignKey(Participant, null=False, on_delete=OnDelete.restrict)
    key = Varchar(length=40)
    created_at = Timestamptz(default=TimestamptzNow())


class Anchor(Table, tablename="signing_anchor"):
    """A daily RFC 3161 time-stamp over the heads of every audit chain (platform-wide)."""

    id = UUID(primary_key=True)
    day = Date(unique=True)
    digest = Varchar(length=64)
    heads = JSON()
    token = Text()  # base64 DER of the time-stamp token
    created_at = Timestamptz(default=TimestamptzNow())
