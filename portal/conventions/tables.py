"""Conventions, their parties, articles (with revisions, comments and suggestions), budget annex,
indicators, annexes and versions. Every table is tenant-owned (non-null `consortium`)."""

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

from portal.tenants.tables import Consortium, Organisation


class Convention(Table, tablename="conventions_convention"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    kind = Varchar(length=16)  # ConventionKind
    origin = Varchar(length=16)  # Origin
    parent = UUID(null=True, default=None)  # the signed convention amended or renewed
    parent_version = UUID(null=True, default=None)  # its signed version
    amendment_number = Integer(default=0)
    reference = Varchar(length=60)
    title = Varchar(length=200)
    project_name = Varchar(length=200, default="")
    territory = Varchar(length=200, default="")
    status = Varchar(length=16)  # ConventionStatus
    starts_on = Date(null=True, default=None)
    duration_months = Integer(default=24)
    months_before = Integer(default=0)  # months of earlier terms (renewals count towards 48)
    households_target = Integer(null=True, default=None)
    homes_target = Integer(null=True, default=None)
    # How many times a household's sub-letting may be renewed under this convention.
    subletting_renewals = Integer(default=1)
    unit_diagnostic_cents = BigInt(null=True, default=None)  # per household
    unit_accompaniment_cents = BigInt(null=True, default=None)  # per household and year
    unit_gla_cents = BigInt(null=True, default=None)  # per home and year
    revision = Integer(default=1)  # optimistic locking of the structured fields
    signed_version = UUID(null=True, default=None)
    signed_at = Timestamptz(null=True, default=None)
    created_by = UUID(null=True, default=None)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())


class Party(Table, tablename="conventions_party"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    convention = ForeignKey(Convention, null=False, on_delete=OnDelete.restrict)
    organisation = ForeignKey(Organisation, null=False, on_delete=OnDelete.restrict)
    role = Varchar(length=16)  # PartyRole
    signatory_name = Varchar(length=200, default="")
    signatory_title = Varchar(length=200, default="")
    referent_name = Varchar(length=200, default="")
    referent_email = Varchar(length=254, default="")
    referent_phone = Varchar(length=30, default="")
    position = Integer(default=0)


class Article(Table, tablename="conventions_article"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    convention = ForeignKey(Convention, null=False, on_delete=OnDelete.restrict)
    key = Varchar(length=40, default="")  # the default model's article it comes from
    source = UUID(null=True, default=None)  # the signed convention's article it was copied from
    position = Integer()
    title = Varchar(length=200)
    body = Text(default="")  # light Markdown source, rendered then sanitised
    revision = Integer(default=1)  # optimistic locking: a save names the revision it edited
    updated_by = UUID(null=True, default=None)
    updated_by_name = Varchar(length=200, default="")
    updated_at = Timestamptz(default=TimestamptzNow())
    removed_at = Timestamptz(null=True, default=None)


class ArticleRevision(Table, tablename="conventions_article_revision"):
    """Every state an article went through: the history and the per-article diff."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    convention = ForeignKey(Convention, null=False, on_delete=OnDelete.restrict)
    article = ForeignKey(Article, null=False, on_delete=OnDelete.restrict)
    revision = Integer()
    title = Varchar(length=200)
    body = Text(default="")
    action = Varchar(length=24)  # RevisionAction
    note = Text(default="")
    author_id = UUID(null=True, default=None)
    author_name = Varchar(length=200, default="")
    at = Timestamptz(default=TimestamptzNow())


class Comment(Table, tablename="conventions_comment"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    convention = ForeignKey(Convention, null=False, on_delete=OnDelete.restrict)
    article = ForeignKey(Article, null=False, on_delete=OnDelete.restrict)
    thread = UUID(null=True, default=None)  # the first comment of the thread; null for it
    author_id = UUID()
    author_name = Varchar(length=200)
    organisation_name = Varchar(length=200, default="")
    body = Text()
    created_at = Timestamptz(default=TimestamptzNow())
    resolved_at = Timestamptz(null=True, default=None)
    resolved_by_name = Varchar(length=200, default="")


class Suggestion(Table, tablename="conventions_suggestion"):
    """A change to an article proposed by a party; the pilot accepts or rejects it."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    convention = ForeignKey(Convention, null=False, on_delete=OnDelete.restrict)
    article = ForeignKey(Article, null=False, on_delete=OnDelete.restrict)
    base_revision = Integer()
    title = Varchar(length=200)
    body = Text()
    explanation = Text(default="")
    author_id = UUID()
    author_name = Varchar(length=200)
    organisation_name = Varchar(length=200, default="")
    status = Varchar(length=16)  # SuggestionStatus
    decided_by_name = Varchar(length=200, default="")
    decided_at = Timestamptz(null=True, default=None)
    decision_note = Text(default="")
    created_at = Timestamptz(default=TimestamptzNow())


class BudgetLine(Table, tablename="conventions_budget_line"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    convention = ForeignKey(Convention, null=False, on_delete=OnDelete.restrict)
    side = Varchar(length=8)  # "expense" | "resource"
    category = Varchar(length=24)  # ExpenseCategory for expenses, Funder for resources
    label = Varchar(length=200)
    amount_cents = BigInt()
    eligible = Boolean(default=True)  # expenses
    confirmed = Boolean(default=False)  # resources: confirmed or still forecast
    in_kind = Boolean(default=False)  # resources: valued contribution (staff time...)
    funding_line = Varchar(length=200, default="")  # resources: e.g. "FNAVDL hors DALO"
    created_at = Timestamptz(default=TimestamptzNow())


class Indicator(Table, tablename="conventions_indicator"):
    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    convention = ForeignKey(Convention, null=False, on_delete=OnDelete.restrict)
    kind = Varchar(length=16)  # IndicatorKind
    label = Varchar(length=200)
    target = Integer(null=True, default=None)  # quantitative target, as declared
    unit = Varchar(length=60, default="")
    description = Text(default="")  # qualitative criterion, or how it is measured
    created_at = Timestamptz(default=TimestamptzNow())


class Annex(Table, tablename="conventions_annex"):
    """An uploaded PDF appended to the convention's PDF."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    convention = ForeignKey(Convention, null=False, on_delete=OnDelete.restrict)
    title = Varchar(length=200)
    filename = Varchar(length=200)
    storage_key = Varchar(length=200, unique=True)
    sha256 = Varchar(length=64)
    size = BigInt()
    pages = Integer()
    uploaded_by_name = Varchar(length=200, default="")
    uploaded_at = Timestamptz(default=TimestamptzNow())
    removed_at = Timestamptz(null=True, default=None)


class Version(Table, tablename="conventions_version"):
    """A snapshot of the whole convention: taken when it goes to review, and when it is frozen
    for signature (then with its PDF, rendered once). Rows are never updated."""

    id = UUID(primary_key=True)
    consortium = ForeignKey(Consortium, null=False, on_delete=OnDelete.restrict)
    convention = ForeignKey(Convention, null=False, on_delete=OnDelete.restrict)
    number = Integer()
    frozen = Boolean(default=False)
    snapshot = JSON()
    content_sha256 = Varchar(length=64)
    pdf_key = Varchar(length=200, null=True, default=None)
    pdf_sha256 = Varchar(length=64, default="")
    pdf_size = BigInt(default=0)
    created_by = UUID(null=True, default=None)
    created_by_name = Varchar(length=200, default="")
    created_at = Timestamptz(default=TimestamptzNow())
