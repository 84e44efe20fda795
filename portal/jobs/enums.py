from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "pending"  # in the outbox, due at `run_after`
    QUEUED = "queued"  # handed to Redis
    RUNNING = "running"  # claimed by a worker until `locked_until`
    DONE = "done"
    FAILED = "failed"  # retries exhausted: listed for platform administrators


class DeliveryState(StrEnum):
    INTENT = "intent"  # about to be handed to the SMTP server; outcome not yet known
    SENT = "sent"  # the server accepted it
    UNCERTAIN = "uncertain"  # connection lost after handing it over: maybe accepted


class Delivery(StrEnum):
    """What a re-run does when it finds a message whose acceptance was never confirmed."""

    AT_LEAST_ONCE = "at-least-once"  # access e-mails: resend (same Message-ID)
    AT_MOST_ONCE = "at-most-once"  # notifications: do not resend
