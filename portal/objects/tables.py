"""Not tenant-owned: the ledger is the platform's bookkeeping of its bucket. Keys already carry
the consortium (`<consortium id>/…`, `conventions/<consortium id>/…`); `consortium_id` is kept
for the administrators' report."""

from piccolo.columns import UUID, BigInt, Timestamptz, Varchar
from piccolo.columns.defaults.timestamptz import TimestamptzNow
from piccolo.table import Table


class StoredObject(Table, tablename="objects_ledger"):
    key = Varchar(length=400, primary_key=True)
    owner = Varchar(length=40)  # the domain that stored it: documents, conventions, …
    consortium_id = UUID(null=True, default=None)
    state = Varchar(length=16, index=True)  # ObjectState
    size = BigInt(default=0)
    created_at = Timestamptz(default=TimestamptzNow())
    confirmed_at = Timestamptz(null=True, default=None)
    missing_since = Timestamptz(null=True, default=None)
