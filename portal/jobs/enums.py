from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"  # in the outbox, due at `run_after`
    QUEUED = "queued"  # handed to Redis
    RUNNING = "running"  # claimed by a worker until `locked_until`
    DONE = "done"
    FAILED = "failed"  # retries exhausted: listed for platform administrators
