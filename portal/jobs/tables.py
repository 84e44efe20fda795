"""The outbox: every background job is a row first, written in the transaction that asks for it.

Not tenant-owned: a job may concern no consortium (a password reset); those that do carry the
consortium id in their payload and in `consortium_id`.
"""

from piccolo.columns import JSON, UUID, Integer, Text, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class OutboxJob(Table, tablename="jobs_outbox"):
    id = UUID(primary_key=True)
    name = Varchar(length=100)
    payload = JSON(default="{}")
    consortium_id = UUID(null=True, default=None)
    status = Varchar(length=16, index=True)  # JobStatus
    attempts = Integer(default=0)
    max_attempts = Integer(default=5)
    run_after = Timestamptz(default=TimestamptzNow(), index=True)
    locked_until = Timestamptz(null=True, default=None)
    last_error = Text(default="")
    dedup_key = Varchar(length=200, null=True, default=None, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)


class MailDelivery(Table, tablename="jobs_mail_delivery"):
    """One row per e-mail handed to the SMTP server: a re-run job does not send it again."""

    id = UUID(primary_key=True)
    key = Varchar(length=200, unique=True)
    recipient = Varchar(length=254)
    subject = Varchar(length=300)
    sent_at = Timestamptz(default=TimestamptzNow())
