"""Object storage behind one interface: S3 through the `minio` client (MinIO in production), or
a local folder (embedded default). Keys are built by the portal (consortium prefix + random id),
never from user-supplied names. The minio SDK is blocking: every call runs in a thread."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

import anyio
import anyio.to_thread
from minio import Minio
from minio.error import MinioException
from urllib3.exceptions import HTTPError

from portal.settings import get_settings

CHUNK = 1024 * 1024
T = TypeVar("T")


class StorageError(RuntimeError):
    """The storage service failed or is unreachable."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: dt.datetime


class Storage(Protocol):
    async def ensure_ready(self) -> None: ...
    async def put_file(self, key: str, path: Path, content_type: str) -> None: ...
    def read(self, key: str) -> AsyncIterator[bytes]: ...
    async def delete(self, key: str) -> None: ...
    async def exists(self, key: str) -> bool: ...
    async def list(self, prefix: str) -> list[StoredObject]: ...
    async def presigned_url(self, key: str, expires: dt.timedelta, filename: str) -> str | None: ...


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise StorageError("clé d'objet invalide")
        return path

    async def ensure_ready(self) -> None:
        await anyio.Path(self.root).mkdir(parents=True, exist_ok=True)

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        target = self._path(key)

        def copy() -> None:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".partial")
            shutil.copyfile(path, partial)
            os.replace(partial, target)  # never a half-written object under its key

        try:
            await anyio.to_thread.run_sync(copy)
        except OSError as exc:
            raise StorageError(str(exc)) from exc

    async def read(self, key: str) -> AsyncIterator[bytes]:
        try:
            async with await anyio.open_file(self._path(key), "rb") as handle:
                while chunk := await handle.read(CHUNK):
                    yield chunk
        except OSError as exc:
            raise StorageError(str(exc)) from exc

    async def delete(self, key: str) -> None:
        await anyio.to_thread.run_sync(lambda: self._path(key).unlink(missing_ok=True))

    async def exists(self, key: str) -> bool:
        return await anyio.Path(self._path(key)).exists()

    async def list(self, prefix: str) -> list[StoredObject]:
        def scan() -> list[StoredObject]:
            found = []
            for path in self.root.rglob("*"):
                key = path.relative_to(self.root).as_posix()
                if path.is_file() and key.startswith(prefix) and not key.endswith(".partial"):
                    stat = path.stat()
                    found.append(
                        StoredObject(
                            key, stat.st_size, dt.datetime.fromtimestamp(stat.st_mtime, dt.UTC)
                        )
                    )
            return found

        return await anyio.to_thread.run_sync(scan)

    async def presigned_url(self, key: str, expires: dt.timedelta, filename: str) -> str | None:
        return None  # served through the portal


def _client(url: str, credentials_from: str) -> Minio:
    parts, secrets = urlsplit(url), urlsplit(credentials_from)
    if not parts.hostname:
        raise ValueError("PORTAL_STORAGE_URL : s3://clé:secret@hôte:port/bucket")
    return Minio(
        f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname,
        access_key=unquote(secrets.username or ""),
        secret_key=unquote(secrets.password or ""),
        secure=parts.scheme in ("s3+https", "https"),
        # A fixed region: presigned links are then signed without asking the server.
        region="us-east-1",
    )


class S3Storage:
    def __init__(self, url: str, public_url: str | None = None) -> None:
        self.bucket = urlsplit(url).path.strip("/")
        if not self.bucket:
            raise ValueError("PORTAL_STORAGE_URL : s3://clé:secret@hôte:port/bucket")
        self.client = _client(url, url)
        # Links are signed for the address browsers reach; without one, the portal streams.
        self.public_client = _client(public_url, url) if public_url else None

    async def _call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))
        except (MinioException, HTTPError, OSError) as exc:
            raise StorageError(str(exc)) from exc

    async def ensure_ready(self) -> None:
        if not await self._call(self.client.bucket_exists, self.bucket):
            await self._call(self.client.make_bucket, self.bucket)

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        await self._call(
            self.client.fput_object, self.bucket, key, str(path), content_type=content_type
        )

    async def read(self, key: str) -> AsyncIterator[bytes]:
        response = await self._call(self.client.get_object, self.bucket, key)
        try:
            while chunk := await self._call(response.read, CHUNK):
                yield chunk
        finally:
            response.close()
            response.release_conn()

    async def delete(self, key: str) -> None:
        await self._call(self.client.remove_object, self.bucket, key)

    async def exists(self, key: str) -> bool:
        try:
            await self._call(self.client.stat_object, self.bucket, key)
        except StorageError:
            return False
        return True

    async def list(self, prefix: str) -> list[StoredObject]:
        def scan() -> list[StoredObject]:
            return [
                StoredObject(o.object_name, o.size or 0, o.last_modified or dt.datetime.now(dt.UTC))
                for o in self.client.list_objects(self.bucket, prefix=prefix, recursive=True)
            ]

        return await self._call(scan)

    async def presigned_url(self, key: str, expires: dt.timedelta, filename: str) -> str | None:
        if self.public_client is None:
            return None
        disposition = f"attachment; filename*=UTF-8''{quote_filename(filename)}"
        url = await self._call(
            self.public_client.presigned_get_object,
            self.bucket,
            key,
            expires=expires,
            response_headers={"response-content-disposition": disposition},
        )
        return url


def quote_filename(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


@lru_cache(maxsize=1)
def get_storage() -> Storage:
    settings = get_settings()
    if settings.storage_url:
        return S3Storage(settings.storage_url, settings.storage_public_url)
    return LocalStorage(settings.objects_dir)
