"""Append-only audit trail. Ids are plain UUIDs, not foreign keys: an event outlives its subject."""

from piccolo.columns import JSON, UUID, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class AuditEvent(Table, tablename="audit_event"):
    id = UUID(primary_key=True)
    at = Timestamptz(default=TimestamptzNow(), index=True)
    tag = Varchar(length=64, index=True)  # "<source>:<subject>:<action>"
    actor_id = UUID(null=True, default=None)
    actor_email = Varchar(length=254, default="")
    consortium_id = UUID(null=True, default=None, index=True)
    subject = Varchar(length=254, default="")
    ip = Varchar(length=64, default="")
    details = JSON(default="{}")
