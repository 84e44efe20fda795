from enum import StrEnum


class LoginOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    LOCKED = "locked"  # refused by the brute-force rule; does not extend the lock
