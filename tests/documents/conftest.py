"""Storage for the document tests: moto's standalone S3 server (MinIO cannot be installed
here, see `s3_server` in tests/conftest.py) and the local folder backend; the same suite runs
on both."""

from __future__ import annotations

import datetime as dt
import io
import uuid
from collections.abc import Iterator

import httpx
import pytest
from pypdf import PdfWriter

from portal.core import storage as storage_module
from tests.conftest import World, csrf_token, login
from tests.services import setting


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


def pdf_bytes(
    javascript: str | None = None, password: str | None = None, title: str | None = None
) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    if title:
        writer.add_metadata({"/Title": title})
    if javascript:
        from pypdf.actions import JavaScript

        writer.add_open_action(JavaScript(javascript))
    if password:
        writer.encrypt(password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


TODAY = dt.date(2026, 11, 22)


async def make_item(world: World, recurrence: str = "once") -> str:
    from portal.documents import service
    from portal.documents.tables import DocumentItem
    from portal.tenants.service import resolve_tenant

    ctx = await resolve_tenant(world.tenant.slug, world.tenant.pilot.id)
    assert ctx is not None
    values = {
        "title": "Rapport d'activité",
        "description": "",
        "organisation": world.tenant.association_id,
        "recurrence": recurrence,
        "due_on": dt.date(2026, 12, 15) if recurrence == "once" else None,
        "starts_on": None if recurrence == "once" else dt.date(2026, 1, 1),
        "days_after_period": 30,
    }
    await service.create_request(ctx, values, TODAY)
    [item] = await DocumentItem.select(DocumentItem.id).limit(1)
    return str(item["id"])


async def send(
    client: httpx.AsyncClient,
    world: World,
    item_id: str,
    name: str,
    content: bytes,
    ctype: str = "application/pdf",
) -> httpx.Response:
    base = f"/c/{world.tenant.slug}/pieces/{item_id}"
    token = await csrf_token(client, base)
    return await client.post(
        f"{base}/versions", data={"csrf_token": token}, files={"file": (name, content, ctype)}
    )


@pytest.fixture
async def worker_client(client: httpx.AsyncClient, world: World) -> httpx.AsyncClient:
    await login(client, world.tenant.association_worker.email)
    return client
