"""PDF revisions in object storage: written once under a key holding their hash, through the
ledger of objects (the row that points at a revision is confirmed in its transaction), read
back whole (signing needs the complete file), and checked against the stored SHA-256."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import anyio.to_thread

from portal.core.storage import get_storage
from portal.objects import service as objects

T = TypeVar("T")


class TamperedFile(RuntimeError):
    """A stored revision whose bytes no longer match their recorded SHA-256."""


OWNER = "signing"  # in the ledger of objects


# Keys are never reused (a random part per attempt): a sweep settling an abandoned attempt can
# then never remove the object of a later one.
def revision_key(consortium_id: uuid.UUID, request_id: uuid.UUID, number: int, sha: str) -> str:
    return f"signing/{consortium_id}/{request_id}/r{number}-{sha[:16]}-{secrets.token_hex(4)}.pdf"


def certificate_key(consortium_id: uuid.UUID, request_id: uuid.UUID, sha: str) -> str:
    return f"signing/{consortium_id}/{request_id}/certificat-{sha[:16]}-{secrets.token_hex(4)}.pdf"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored(key: str, data: bytes, consortium_id: uuid.UUID) -> Any:
    """Stores `data` under `key` for the caller's block, which writes the row pointing at it
    and confirms the handle in the same transaction (see `portal.objects.service.stored`)."""
    return objects.stored_bytes(
        key, data, "application/pdf", owner=OWNER, consortium_id=consortium_id
    )


async def get(key: str, sha256: str) -> bytes:
    chunks = [chunk async for chunk in await get_storage().open(key)]
    data = b"".join(chunks)
    if hashlib.sha256(data).hexdigest() != sha256:
        # Never sign or hand out bytes that are not the ones recorded. Not an outage: retrying
        # would not help, an operator must look.
        raise TamperedFile(f"{key} ne correspond plus à son empreinte enregistrée")
    return data


async def cpu(function: Callable[..., T], *args: Any) -> T:
    """PDF and signature work runs in a worker thread, off the event loop."""
    return await anyio.to_thread.run_sync(lambda: function(*args))
