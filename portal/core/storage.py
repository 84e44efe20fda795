"""Object storage behind one interface: S3 through the `minio` client (MinIO in production), or
a local folder (embedded default). Keys are built by the portal (consortium prefix + random id),
never from user-supplied names. The minio SDK is blocking: every call runs in a thread.

S3 calls have short timeouts (`PORTAL_STORAGE_CONNECT_TIMEOUT`, `PORTAL_STORAGE_READ_TIMEOUT`)
and few retries: a hung server must cost the user seconds, not the SDK's five minutes. A missing
object (`ObjectMissing`) is told apart from an unreachable service (`StorageError`)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar
from urllib.parse import unquote, urlsplit

import anyio
import anyio.to_thread
import certifi
import urllib3
from urllib3.exceptions import HTTPError

from portal.core import clock
from portal.core.outage import Unavailable
from portal.settings import get_settings

if TYPE_CHECKING:
    from minio import Minio

CHUNK = 1024 * 1024
T = TypeVar("T")


class StorageError(Unavailable):
    """The storage service failed or is unreachable."""

    service = "storage"
    default_message = "Le stockage des documents ne répond pas : réessayez dans quelques minutes."


class ObjectMissing(Exception):
    """The storage answered: there is no object under this key. (Not a `LookupError`, which
    routes turn into 404: a row exists, its file is gone; the answer is 410.)"""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


_MISSING_CODES = {"NoSuchKey", "NoSuchObject", "NotFound", "ResourceNotFound"}


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: dt.datetime


class Storage(Protocol):
    async def ensure_ready(self) -> None: ...
    async def ping(self) -> None: ...
    async def put_file(self, key: str, path: Path, content_type: str) -> None: ...
    async def open(self, key: str) -> AsyncIterator[bytes]:
        """Starts reading: raises `ObjectMissing` or `StorageError` before the first chunk is
        asked for, so a download can fail cleanly before its headers are sent."""
        ...

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
        try:
            await anyio.Path(self.root).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(str(exc)) from exc

    async def ping(self) -> None:
        if not await anyio.Path(self.root).is_dir():
            raise StorageError(f"{self.root} n'existe pas")

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

    async def open(self, key: str) -> AsyncIterator[bytes]:
        try:
            handle = await anyio.open_file(self._path(key), "rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc
        except OSError as exc:
            raise StorageError(str(exc)) from exc
        return _local_chunks(handle)

    async def delete(self, key: str) -> None:
        try:
            await anyio.to_thread.run_sync(lambda: self._path(key).unlink(missing_ok=True))
        except OSError as exc:
            raise StorageError(str(exc)) from exc

    async def exists(self, key: str) -> bool:
        return await anyio.Path(self._path(key)).exists()

    async def list(self, prefix: str) -> list[StoredObject]:
        # `.partial` files are listed too: one left by a killed copy belongs to no row, so the
        # sweep removes it once it is old enough not to be a copy in progress.
        def scan() -> list[StoredObject]:
            found = []
            if not self.root.is_dir():
                raise StorageError(f"{self.root} n'existe pas")
            for path in self.root.rglob("*"):
                key = path.relative_to(self.root).as_posix()
                if path.is_file() and key.startswith(prefix):
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


async def _local_chunks(handle: anyio.AsyncFile[bytes]) -> AsyncIterator[bytes]:
    try:
        while chunk := await handle.read(CHUNK):
            yield chunk
    except OSError as exc:
        raise StorageError(str(exc)) from exc
    finally:
        await handle.aclose()


def _http_client() -> urllib3.PoolManager:
    """minio's own client waits 5 minutes per read and retries 5 times: a hung server would
    hold an upload for half an hour. Reads are not retried (a PUT whose answer was lost may
    have landed; the ledger of objects settles it), refused connections and 5xx are, once."""
    settings = get_settings()
    return urllib3.PoolManager(
        timeout=urllib3.Timeout(
            connect=settings.storage_connect_timeout, read=settings.storage_read_timeout
        ),
        maxsize=10,
        cert_reqs="CERT_REQUIRED",
        ca_certs=os.environ.get("SSL_CERT_FILE") or certifi.where(),
        retries=urllib3.Retry(
            total=2,
            connect=1,
            read=0,
            status=1,
            backoff_factor=0.2,
            status_forcelist=[500, 502, 503, 504],
        ),
    )


def _client(url: str, credentials_from: str) -> Minio:
    # Imported here: the embedded default (a local folder) never loads the S3 client.
    from minio import Minio

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
        http_client=_http_client(),
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
        from minio.error import MinioException, S3Error  # loaded with the client already

        try:
            return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))
        except S3Error as exc:
            if exc.code in _MISSING_CODES and args[1:2]:
                raise ObjectMissing(str(args[1])) from exc
            raise StorageError(str(exc)) from exc
        except (MinioException, HTTPError, OSError) as exc:
            raise StorageError(str(exc)) from exc

    async def ensure_ready(self) -> None:
        if not await self._call(self.client.bucket_exists, self.bucket):
            await self._call(self.client.make_bucket, self.bucket)

    async def ping(self) -> None:
        if not await self._call(self.client.bucket_exists, self.bucket):
            raise StorageError(f"le bucket {self.bucket} n'existe pas")

    async def put_file(self, key: str, path: Path, content_type: str) -> None:
        await self._call(
            self.client.fput_object, self.bucket, key, str(path), content_type=content_type
        )

    async def open(self, key: str) -> AsyncIterator[bytes]:
        response = await self._call(self.client.get_object, self.bucket, key)
        return self._chunks(response)

    async def _chunks(self, response: Any) -> AsyncIterator[bytes]:
        try:
            while chunk := await self._call(response.read, CHUNK):
                yield chunk
        finally:
            response.close()
            response.release_conn()

    async def delete(self, key: str) -> None:
        await self._call(self.client.remove_object, self.bucket, key)

    async def exists(self, key: str) -> bool:
        """False only when the storage says so; unreachable raises `StorageError`."""
        try:
            await self._call(self.client.stat_object, self.bucket, key)
        except ObjectMissing:
            return False
        return True

    async def list(self, prefix: str) -> list[StoredObject]:
        def scan() -> list[StoredObject]:
            return [
                StoredObject(o.object_name, o.size or 0, o.last_modified or clock.now())
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
