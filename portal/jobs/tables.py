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
    # The runner holding the lock: it renews `locked_until` with its heartbeat while it runs.
    locked_by = Varchar(length=100, null=True, default=None)
    # The arq job id it was handed to Redis under: lets the relay see that Redis lost it.
    queued_as = Varchar(length=120, null=True, default=None)
    last_error = Text(default="")
    dedup_key = Varchar(length=200, null=True, default=None, unique=True)
    created_at = Timestamptz(default=TimestamptzNow())
    updated_at = Timestamptz(default=TimestamptzNow())
    finished_at = Timestamptz(null=True, default=None)


class MailDelivery(Table, tablename="jobs_mail_delivery"):
    """One row per e-mail: written (state "intent") in its own transaction before the message
    goes to the SMTP server, then "sent" once the server accepted it. A re-run job that finds
    the row does not send blindly (see `portal.jobs.service.deliver_once`)."""

    id = UUID(primary_key=True)
    key = Varchar(length=200, unique=True)
    recipient = Varchar(length=254)
    subject = Varchar(length=300)
    sent_at = Timestamptz(default=TimestamptzNow())  # when the row was last written
    state = Varchar(length=16, default="sent")  # DeliveryState
    message_id = Varchar(length=200, default="")
    attempts = Integer(default=1)


class Runner(Table, tablename="jobs_runner"):
    """The heartbeat of each process that runs jobs (a `portal worker`, or a web process on the
    embedded default): `/healthz` reports those seen lately."""

    id = Varchar(length=100, primary_key=True)
    kind = Varchar(length=16)  # "worker" | "web"
    hostname = Varchar(length=200, default="")
    pid = Integer(default=0)
    redis = Varchar(length=16, default="")  # "connected" | "waiting" | "" (no Redis)
    running = Integer(default=0)  # jobs in progress
    started_at = Timestamptz(default=TimestamptzNow())
    seen_at = Timestamptz(default=TimestamptzNow(), index=True)
