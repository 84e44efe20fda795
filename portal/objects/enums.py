from enum import StrEnum


class ObjectState(StrEnum):
    PENDING = "pending"  # about to be stored, or stored: no committed row points at it yet
    COMMITTED = "committed"  # confirmed in the transaction of the row that points at it
    MISSING = "missing"  # committed, but the storage no longer has it (found by the sweep)


class Settled(StrEnum):
    """What `settle` found after a failed or abandoned transaction."""

    COMMITTED = "committed"  # the row was committed after all: the object stays
    REMOVED = "removed"  # the row was never committed: the object was removed
    UNKNOWN = "unknown"  # the database did not answer: left to the sweep
