"""The households register. Every table is tenant-owned (non-null `consortium`).

Identity and every free text (motives, notes, diagnostic, alert notes) are stored sealed with
the consortium's data key (`portal.households.sealing`): a dump or a backup holds no name and
no diagnostic in clear. `Read` is append-only (a trigger refuses UPDATE and DELETE, PostgreSQL).
"""

from piccolo.columns import (
    UUID,
    Array,
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


class DataKey(Table, tablename="households_data_key"):
    """The consortium's data key, wrapped by the master key of the settings."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict, unique=True)
    wrapped = Text()
    created_at = Timestamptz(default=TimestamptzNow())


class Household(Table, tablename="households_household"):
    """The follow-up side: what pages list and count. No identity here."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    pseudonym = Varchar(length=16)  # « M-2027-0042 », unique in the consortium
    convention = ForeignKey(Convention, null=False, on_delete=OnDelete.restrict)
    association = ForeignKey(Organisation, null=False, on_delete=OnDelete.restrict)
    referent = UUID(null=True, default=None)  # user following it for the association
    lessor = ForeignKey(Organisation, null=True, on_delete=OnDelete.restrict)
    lessor_referent = UUID(null=True, default=None)  # GLA référent of the bailleur
    step = Varchar(length=16)  # Step
    step_on = Date()
    episode = Integer(default=1)
    occupancy = Varchar(length=16, null=True, default=None)  # Occupancy
    gla_since = Date(null=True, default=None)  # gestion locative adaptée, beside the pathway
    oriented_on = Date()  # of the current episode
    exit_reason = Varchar(length=16, null=True, default=None)  # ExitReason, last exit
    last_contact_at = Timestamptz(default=TimestamptzNow())
    retention_warned_at = Timestamptz(null=True, default=None)
    legal_hold = Boolean(default=False)  # a court case: no erasure while it lasts
    legal_hold_note = Varchar(length=200, default="")
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())


class Identity(Table, tablename="households_identity"):
    """Who the household is, kept apart from the follow-up and sealed."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    household = ForeignKey(Household, null=False, on_delete=OnDelete.cascade, unique=True)
    sealed = Text()  # name, composition, contact, home
    name_hash = Varchar(length=64)  # keyed hash of the normalised family name, for search
    updated_at = Timestamptz(default=TimestamptzNow())


class Transition(Table, tablename="households_transition"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    household = ForeignKey(Household, null=False, on_delete=OnDelete.cascade)
    episode = Integer()
    from_step = Varchar(length=16, null=True, default=None)
    to_step = Varchar(length=16)
    on = Date()  # when it happened
    source = Varchar(length=16, null=True, default=None)  # OrientationSource, orientations
    exit_reason = Varchar(length=16, null=True, default=None)  # ExitReason, exits
    sealed_reason = Text(default="")  # why (the motive of an orientation, an exit's note)
    by = UUID(null=True, default=None)
    at = Timestamptz(default=TimestamptzNow())


class Occupation(Table, tablename="households_occupation"):
    """One occupancy status from a date, with the decision that moved it."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    household = ForeignKey(Household, null=False, on_delete=OnDelete.cascade)
    status = Varchar(length=16)  # Occupancy
    since = Date()
    decided_on = Date()
    decided_by = Varchar(length=200)  # the body: commission, comité…
    decision_reference = Varchar(length=100, default="")
    ends_on = Date(null=True, default=None)  # a sub-letting period's end
    renewal = Integer(default=0)  # 0: a new sub-letting; n: its n-th renewal
    by = UUID(null=True, default=None)
    at = Timestamptz(default=TimestamptzNow())


class Note(Table, tablename="households_note"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    household = ForeignKey(Household, null=False, on_delete=OnDelete.cascade)
    author = UUID()
    personal = Boolean(default=False)  # seen by its author only
    sealed = Text()
    at = Timestamptz(default=TimestamptzNow())


class Section(Table, tablename="households_section"):
    """A section of the consortium's diagnostic grid (the default grid when it has none)."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    code = Varchar(length=32)
    title = Varchar(length=120)
    optional = Boolean(default=False)
    position = Integer(default=0)


class Diagnostic(Table, tablename="households_diagnostic"):
    """The text of one section of one household's diagnostic."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    household = ForeignKey(Household, null=False, on_delete=OnDelete.cascade)
    section = Varchar(length=32)
    sealed = Text()
    by = UUID(null=True, default=None)
    updated_at = Timestamptz(default=TimestamptzNow())


class Consent(Table, tablename="households_consent"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    household = ForeignKey(Household, null=False, on_delete=OnDelete.cascade)
    purpose = Varchar(length=200)
    sections = Array(Varchar(length=32))  # which diagnostic sections it covers
    recipients = Array(Varchar(length=36))  # organisation ids, as text (SQLite arrays)
    siao_copied = Boolean(default=False)
    state = Varchar(length=16)  # ConsentState
    collected_by = UUID(null=True, default=None)
    collected_on = Date()
    expires_on = Date(null=True, default=None)
    withdrawn_on = Date(null=True, default=None)
    evidence_key = Varchar(length=300, default="")  # the signed authorisation, in storage
    evidence_sha256 = Varchar(length=64, default="")
    evidence_type = Varchar(length=100, default="")  # sealed in storage too: a scan names them
    at = Timestamptz(default=TimestamptzNow())


class Transmission(Table, tablename="households_transmission"):
    """The housing synthesis sent to a bailleur, as it was, under the consent it names."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    household = ForeignKey(Household, null=False, on_delete=OnDelete.cascade)
    consent = ForeignKey(Consent, null=False, on_delete=OnDelete.cascade)
    recipient = ForeignKey(Organisation, null=False, on_delete=OnDelete.restrict)
    section = Varchar(length=32)
    sealed = Text()
    by = UUID(null=True, default=None)
    at = Timestamptz(default=TimestamptzNow())


class Alert(Table, tablename="households_alert"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    household = ForeignKey(Household, null=False, on_delete=OnDelete.cascade)
    kind = Varchar(length=16)  # AlertKind
    raised_on = Date()
    sender = ForeignKey(Organisation, null=False, on_delete=OnDelete.restrict)
    addressee = ForeignKey(Organisation, null=False, on_delete=OnDelete.restrict)
    sealed_note = Text()
    raised_by = UUID(null=True, default=None)
    acknowledged_at = Timestamptz(null=True, default=None)
    acknowledged_by = UUID(null=True, default=None)
    resolved_at = Timestamptz(null=True, default=None)
    resolved_by = UUID(null=True, default=None)
    sealed_resolution = Text(default="")
    at = Timestamptz(default=TimestamptzNow())


class Procedure(Table, tablename="households_procedure"):
    """A court procedure suspended while support is tried: a timer before its end."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    household = ForeignKey(Household, null=False, on_delete=OnDelete.cascade)
    suspended_on = Date()
    suspended_until = Date()
    by = UUID(null=True, default=None)
    at = Timestamptz(default=TimestamptzNow())


class Settings(Table, tablename="households_settings"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict, unique=True)
    alert_ack_days = Integer(default=5)  # an alert not acknowledged by then is reminded


class Read(Table, tablename="households_read"):
    """Append-only: who read what of which household, under which consent. No foreign key to
    the household: the log outlives its erasure."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    household = UUID()
    pseudonym = Varchar(length=16)
    reader = UUID()  # the user
    organisation = UUID()
    role = Varchar(length=32)
    what = Varchar(length=24)  # Read
    detail = Varchar(length=64, default="")  # the section's code, the alert's or file's id
    consent = UUID(null=True, default=None)
    at = Timestamptz(default=TimestamptzNow())


class Tombstone(Table, tablename="households_tombstone"):
    """What is left of an erased household: its pseudonym, when and why."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    pseudonym = Varchar(length=16)
    erased_at = Timestamptz()
    reason = Varchar(length=200)


class ErasedCount(Table, tablename="households_erased_count"):
    """Anonymised counts of erased households, so that indicators stay true."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    month = Varchar(length=7)  # year-month of the orientation: « 2027-03 »
    step = Varchar(length=16)  # the last step
    exit_reason = Varchar(length=16, default="")
    households = Integer(default=0)
