"""The same storage suite on the local folder and on S3 (moto server)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest

from portal.core.storage import LocalStorage, S3Storage, StorageError


async def read_all(storage, key: str) -> bytes:  # type: ignore[no-untyped-def]
    return b"".join([chunk async for chunk in await storage.open(key)])


class TestStorageSuite:
    async def test_put_read_list_delete(self, storage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        source = tmp_path / "f.bin"
        content = bytes(range(256)) * 9000  # 2.3 MB, several read chunks
        source.write_bytes(content)
        await storage.put_file("c1/abc", source, "application/octet-stream")
        assert await storage.exists("c1/abc")
        assert await read_all(storage, "c1/abc") == content
        assert [o.key for o in await storage.list("c1/")] == ["c1/abc"]
        assert await storage.list("c2/") == []
        await storage.delete("c1/abc")
        assert not await storage.exists("c1/abc")

    async def test_presigned_url_or_streaming(self, storage, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
        source = tmp_path / "f.txt"
        source.write_bytes(b"bonjour")
        await storage.put_file("c1/x", source, "text/plain")
        url = await storage.presigned_url("c1/x", dt.timedelta(minutes=1), "été.txt")
        if isinstance(storage, LocalStorage) or storage.public_client is None:
            assert url is None
        else:
            async with httpx.AsyncClient() as client:
                response = await client.get(url)
            assert response.content == b"bonjour"
            assert "filename*=UTF-8''%C3%A9t%C3%A9.txt" in response.headers["content-disposition"]


class TestS3Down:
    async def test_unreachable_server_raises_storage_error(self, tmp_path: Path) -> None:
        storage = S3Storage("s3://k:s@127.0.0.1:1/bucket")
        source = tmp_path / "f"
        source.write_bytes(b"x")
        with pytest.raises(StorageError):
            await storage.put_file("c/x", source, "text/plain")
