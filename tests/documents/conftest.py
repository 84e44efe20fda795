"""Storage for the document tests: moto's standalone S3 server (MinIO cannot be installed
here) and the local folder backend; the same suite runs on both."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from pypdf import PdfWriter

from portal.core import storage as storage_module
from tests.conftest import free_port
from tests.services import setting


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from moto.server import main; main()",
            "-H",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    else:
        process.kill()
        raise RuntimeError("moto server did not start")
    yield f"127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def use_storage(url: str | None, public_url: str | None = None) -> Iterator[None]:
    storage_module.get_storage.cache_clear()
    with setting("storage_url", url), setting("storage_public_url", public_url):
        yield
    storage_module.get_storage.cache_clear()


@pytest.fixture(params=["local", "s3", "s3-streamed"])
async def storage(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Each test runs on the local folder, on S3 with presigned downloads (a public address is
    configured) and on S3 streamed through the portal (none is), with an empty store."""
    url: str | None = None
    public: str | None = None
    if request.param.startswith("s3"):
        host = request.getfixturevalue("s3_server")
        url = f"s3://testing:testing@{host}/bucket-{uuid.uuid4().hex[:12]}"
        public = f"http://{host}" if request.param == "s3" else None
    for _ in use_storage(url, public):
        backend = storage_module.get_storage()
        await backend.ensure_ready()
        for obj in await backend.list(""):
            await backend.delete(obj.key)
        yield backend


def pdf_bytes(javascript: str | None = None, password: str | None = None) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    if javascript:
        from pypdf.actions import JavaScript

        writer.add_open_action(JavaScript(javascript))
    if password:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
