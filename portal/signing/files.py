"""PDF revisions in object storage: written once under a key holding their hash, read back
whole (signing needs the complete file), and checked against the stored SHA-256."""

from __future__ import annotations

import hashlib
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio.to_thread

from portal.core.forms import FieldError
from portal.core.storage import StorageError, get_storage
from portal.settings import get_settings

T = TypeVar("T")


def revision_key(consortium_id: uuid.UUID, request_id: uuid.UUID, number: int, sha: str) -> str:
    return f"signing/{consortium_id}/{request_id}/r{number}-{sha[:16]}.pdf"


def certificate_key(consortium_id: uuid.UUID, request_id: uuid.UUID, sha: str) -> str:
    return f"signing/{consortium_id}/{request_id}/certificat-{sha[:16]}.pdf"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def put(key: str, data: bytes) -> str:
    """Stores `data` under `key`; returns its SHA-256."""
    tmp = get_settings().data_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=tmp, suffix=".pdf") as handle:
        handle.write(data)
        handle.flush()
        try:
            await get_storage().put_file(key, Path(handle.name), "application/pdf")
        except StorageError as exc:
            raise FieldError(
                "Le stockage des documents ne répond pas : réessayez dans quelques minutes."
            ) from exc
    return hashlib.sha256(data).hexdigest()


async def get(key: str, sha256: str) -> bytes:
    chunks = [chunk async for chunk in get_storage().read(key)]
    data = b"".join(chunks)
    if hashlib.sha256(data).hexdigest() != sha256:
        # Never sign or hand out bytes that are not the ones recorded.
        raise StorageError(f"{key} ne correspond plus à son empreinte enregistrée")
    return data


async def cpu(function: Callable[..., T], *args: Any) -> T:
    """PDF and signature work runs in a worker thread, off the event loop."""
    return await anyio.to_thread.run_sync(lambda: function(*args))
