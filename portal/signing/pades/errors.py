"""What a PAdES operation raises: `message` is shown to users (French)."""

from __future__ import annotations


class PadesError(Exception):
    """A PDF signature operation failed; `message` is shown to users (French)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TimestampUnavailable(PadesError):
    """The time-stamping authority did not answer: nothing was produced, retry later."""


class ExternalRejected(PadesError):
    """A file signed outside the portal is refused; `message` says why."""


UNREADABLE = "Ce fichier n'est pas un PDF lisible."
