from enum import StrEnum


class Recurrence(StrEnum):
    ONCE = "once"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


class ItemStatus(StrEnum):
    """attendu → déposé → validé, or à compléter (with the reviewer's comment) → déposé again."""

    EXPECTED = "expected"
    SUBMITTED = "submitted"
    VALIDATED = "validated"
    TO_COMPLETE = "to_complete"
