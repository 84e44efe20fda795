from enum import StrEnum


class EmailMode(StrEnum):
    IMMEDIATE = "immediate"
    DIGEST = "digest"  # one e-mail a day at 8:00 with what came in


class EmailStatus(StrEnum):
    PENDING = "pending"  # an e-mail job will send it (maybe held until morning)
    DIGEST = "digest"  # waits for the next daily digest
    SENT = "sent"
    SKIPPED = "skipped"  # the person asked for no non-essential e-mail
    WITHDRAWN = "withdrawn"  # no longer relevant (the thing was done) before it went out
