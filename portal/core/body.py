"""A request body with a byte budget: Starlette's form parser bounds the size of plain fields
(`max_part_size`) but spools file parts to disk whatever their size, and `UploadFile.read()`
then loads them whole. Counting what `receive` delivers stops an upload as soon as it passes
the budget, before the rest is even read from the socket."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import Message

# Room for the multipart boundaries, headers and small fields around the file.
ENVELOPE_BYTES = 64 * 1024


class BodyTooLarge(Exception):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"body over {max_bytes} bytes")
        self.max_bytes = max_bytes


def declared_over(request: Request, max_bytes: int) -> bool:
    """Does the declared Content-Length pass `max_bytes` plus the multipart envelope? A body
    that says so is refused before a byte of it is read."""
    declared = request.headers.get("content-length", "")
    return declared.isascii() and declared.isdigit() and int(declared) > max_bytes + ENVELOPE_BYTES


def limited(request: Request, max_bytes: int) -> Request:
    """The same request, whose body raises `BodyTooLarge` once more than `max_bytes` (plus the
    multipart envelope) arrived. A declared Content-Length over it is refused before reading."""
    if declared_over(request, max_bytes):
        raise BodyTooLarge(max_bytes)
    budget = max_bytes + ENVELOPE_BYTES
    received = 0

    async def receive() -> Message:
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > budget:
                raise BodyTooLarge(max_bytes)
        return message

    return Request(request.scope, receive)
