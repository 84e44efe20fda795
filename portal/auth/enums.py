from enum import StrEnum


class LoginOutcome(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    LOCKED = "locked"  # refused by the brute-force rule; does not extend the lock
    SECOND_FACTOR_FAILED = "code_failed"  # a wrong code at the second step (second_factor.py)
