"""What an upload hands the domain: the file spooled to disk, hashed and counted
(`ReceivedFile`), the form's other fields, or the refusal. Reading the request body into them is
the web layer's (`web.receive_upload`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class UploadRefused(Exception):
    """`status_code`: 400 for what the user sent, 413 for a file too big, 503 when a service
    of the portal is down (nothing wrong with the file)."""

    def __init__(self, message: str, field: str = "file", status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.status_code = status_code


@dataclass
class ReceivedFile:
    path: Path
    filename: str = ""
    size: int = 0
    head: bytes = b""
    sha256: str = ""

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)


@dataclass
class ReceivedForm:
    fields: dict[str, str] = field(default_factory=dict)
    file: ReceivedFile | None = None
