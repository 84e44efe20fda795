"""Justificatifs when something breaks: a commit whose answer is lost, an object the storage
lost, two uploads at once, a hung storage, a full or read-only spool, leftovers of a killed
process. Nothing committed is deleted, nothing is half-written, and each person is told in
French what happened."""

from __future__ import annotations

import asyncio
import datetime as dt
import errno
import html
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from portal.core import db, spool
from portal.core.storage import Storage
from portal.documents.tables import DocumentItem, DocumentVersion
from portal.notifications.tables import Notification
from portal.objects import repository as objects_repository
from portal.objects import service as objects
from portal.objects.tables import StoredObject
from tests.conftest import World, login
from tests.documents.conftest import make_item, pdf_bytes, send, use_storage
from tests.services import setting, silent_server

MakeClient = Callable[[], httpx.AsyncClient]


def answer_lost_after_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next transaction commits, then its connection fails on the way back to the pool
    (what asyncpg raised during the PostgreSQL restart: "cannot switch to state 15")."""
    import asyncpg

    real = db._close
    armed = [True]

    async def close(engine: object, tx: object, exc: BaseException | None) -> None:
        await real(engine, tx, exc)
        if armed[0] and exc is None:
            armed[0] = False
            raise asyncpg.InterfaceError("cannot switch to state 15")

    monkeypatch.setattr(db, "_close", close)


class TestCommitWhoseAnswerIsLost:
    async def test_the_upload_is_kept_and_reported_as_done(
        self,
        storage: Storage,
        worker_client: httpx.AsyncClient,
        world: World,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        item_id = await make_item(world)
        answer_lost_after_commit(monkeypatch)
        response = await send(worker_client, world, item_id, "r.pdf", pdf_bytes())
        assert response.status_code == 303
        [version] = await DocumentVersion.select()
        assert [o.key for o in await storage.list("")] == [version["storage_key"]]
        [entry] = await StoredObject.select()
        assert entry["state"] == "committed"
        download = await worker_client.get(
            f"/c/{world.tenant.slug}/pieces/{item_id}/versions/{version['id']}"
        )
        assert download.status_code in (200, 303)

    async def test_when_the_database_cannot_be_asked_the_file_is_left_to_the_sweep(
        self,
        storage: Storage,
        worker_client: httpx.AsyncClient,
        world: World,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        item_id = await make_item(world)
        answer_lost_after_commit(monkeypatch)

        async def unreachable(key: str) -> bool:
            raise ConnectionRefusedError("database gone")

        monkeypatch.setattr(objects_repository, "abandon", unreachable)
        response = await send(worker_client, world, item_id, "r.pdf", pdf_bytes())
        assert response.status_code == 503
        assert "n'a peut-être pas abouti" in html.unescape(response.text)
        monkeypatch.undo()
        # It was committed: the version is there, and its file too, even after the sweep.
        [version] = await DocumentVersion.select()
        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)
        report = await objects.sweep(later)
        assert report.abandoned == 0 and report.strays == 0 and report.newly_missing == []
        assert [o.key for o in await storage.list("")] == [version["storage_key"]]

    async def test_a_transaction_that_failed_before_its_commit_leaves_nothing(
        self,
        storage: Storage,
        worker_client: httpx.AsyncClient,
        world: World,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from portal.documents import repository

        item_id = await make_item(world)

        async def refused(*args: object, **kwargs: object) -> None:
            raise ConnectionResetError("connection lost mid-transaction")

        monkeypatch.setattr(repository, "update_item", refused)
        response = await send(worker_client, world, item_id, "r.pdf", pdf_bytes())
        assert response.status_code == 503
        assert await DocumentVersion.count() == 0
        assert await storage.list("") == [] and await StoredObject.count() == 0


class TestLostObject:
    async def test_the_sweep_finds_it_reports_it_and_asks_the_uploader_again(
        self, storage: Storage, make_client: MakeClient, world: World
    ) -> None:
        from workers.schedule import sweep_objects

        uploader = make_client()
        await login(uploader, world.tenant.association_worker.email)
        item_id = await make_item(world)
        assert (await send(uploader, world, item_id, "rapport.pdf", pdf_bytes())).status_code == 303
        [version] = await DocumentVersion.select()
        await storage.delete(version["storage_key"])  # lost by the storage, behind our back

        # Before the sweep, the download says so instead of a 200 cut short.
        base = f"/c/{world.tenant.slug}/pieces/{item_id}"
        download = await uploader.get(f"{base}/versions/{version['id']}")
        assert download.status_code == 410
        assert "n'est plus disponible" in html.unescape(download.text)

        await sweep_objects(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))
        [item] = await DocumentItem.select().where(DocumentItem.id == item_id)
        assert item["status"] == "to_complete"
        assert "n'a pas été conservé" in item["reviewer_comment"]
        [note] = await Notification.select().where(
            Notification.user == world.tenant.association_worker.id
        )
        assert "à nouveau" in note["title"] and note["link"].endswith(item_id)
        page = html.unescape((await uploader.get(base)).text)
        assert "rapport.pdf" in page and "n'a pas été conservé" in page

        admin = make_client()
        await login(admin, world.admin.email)
        assert "a perdu 1 fichier" in html.unescape((await admin.get("/admin")).text)
        assert version["storage_key"] in (await admin.get("/admin/taches")).text
        health = (await admin.get("/healthz")).json()
        assert health["checks"]["objects"] == {
            "state": "degraded",
            "missing": 1,
            "latency_ms": health["checks"]["objects"]["latency_ms"],
        }
        assert health["status"] == "degraded"

        # Deposited again, the item is complete once more.
        assert (await send(uploader, world, item_id, "rapport.pdf", pdf_bytes())).status_code == 303
        [item] = await DocumentItem.select().where(DocumentItem.id == item_id)
        assert item["status"] == "submitted"

    async def test_a_sweep_cut_short_is_finished_by_the_next(
        self,
        storage: Storage,
        worker_client: httpx.AsyncClient,
        world: World,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from portal.documents import service
        from workers.schedule import sweep_objects

        item_id = await make_item(world)
        await send(worker_client, world, item_id, "r.pdf", pdf_bytes())
        [version] = await DocumentVersion.select()
        await storage.delete(version["storage_key"])

        async def outage(keys: list[str], at: dt.datetime) -> int:
            raise ConnectionRefusedError("database gone")

        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
        with monkeypatch.context() as patched:
            patched.setattr(service, "objects_lost", outage)
            with pytest.raises(ConnectionRefusedError):
                await sweep_objects(later)
        [item] = await DocumentItem.select().where(DocumentItem.id == item_id)
        assert item["status"] == "submitted"  # found missing, not yet handled
        await sweep_objects(later)
        await sweep_objects(later)  # and only once
        [item] = await DocumentItem.select().where(DocumentItem.id == item_id)
        assert item["status"] == "to_complete"
        assert await Notification.count() == 1

    async def test_an_object_put_back_is_found_again(
        self, storage: Storage, worker_client: httpx.AsyncClient, world: World, tmp_path: Path
    ) -> None:
        item_id = await make_item(world)
        await send(worker_client, world, item_id, "r.pdf", pdf_bytes())
        [version] = await DocumentVersion.select()
        key = version["storage_key"]
        saved = tmp_path / "backup"
        saved.write_bytes(b"".join([c async for c in await storage.open(key)]))
        await storage.delete(key)
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
        assert len((await objects.sweep(later)).newly_missing) == 1
        await storage.put_file(key, saved, "application/pdf")  # restored from a backup
        assert (await objects.sweep(later)).found_again == 1
        assert await objects.missing_count() == 0

    async def test_an_unreachable_storage_concludes_nothing(
        self, worker_client: httpx.AsyncClient, world: World, storage: Storage
    ) -> None:
        from portal.core.storage import StorageError

        item_id = await make_item(world)
        await send(worker_client, world, item_id, "r.pdf", pdf_bytes())
        for _ in use_storage("s3://k:s@127.0.0.1:1/bucket"):
            with pytest.raises(StorageError):
                await objects.sweep(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
        assert await objects.missing_count() == 0


class TestDownloads:
    async def test_storage_down_gives_a_french_503_not_a_broken_file(
        self, storage: Storage, worker_client: httpx.AsyncClient, world: World
    ) -> None:
        item_id = await make_item(world)
        await send(worker_client, world, item_id, "r.pdf", pdf_bytes())
        [version] = await DocumentVersion.select()
        url = f"/c/{world.tenant.slug}/pieces/{item_id}/versions/{version['id']}"
        for _ in use_storage("s3://k:s@127.0.0.1:1/bucket"):
            response = await worker_client.get(url)
        assert response.status_code == 503
        assert "stockage des documents ne répond pas" in html.unescape(response.text)


class TestTwoUploadsAtOnce:
    async def test_both_are_kept_with_their_own_numbers(
        self, make_client: MakeClient, world: World
    ) -> None:
        item_id = await make_item(world)
        first, second = make_client(), make_client()
        for client in (first, second):
            await login(client, world.tenant.association_worker.email)
        answers = await asyncio.gather(
            *(
                send(client, world, item_id, f"r{n}.pdf", pdf_bytes(title=f"n{n}"))
                for n, client in enumerate((first, second, first, second))
            )
        )
        assert [a.status_code for a in answers] == [303, 303, 303, 303]
        numbers = sorted(v["number"] for v in await DocumentVersion.select(DocumentVersion.number))
        assert numbers == [1, 2, 3, 4]


@pytest.fixture
def hung_server() -> Iterator[str]:
    """Accepts connections and never answers: a storage frozen in the middle of its work."""
    with silent_server() as port:
        yield f"127.0.0.1:{port}"


class TestHungStorage:
    async def test_an_upload_fails_in_seconds_with_the_french_message(
        self, worker_client: httpx.AsyncClient, world: World, hung_server: str
    ) -> None:
        item_id = await make_item(world)
        from portal.settings import get_settings

        with setting("storage_read_timeout", 1.0), setting("storage_connect_timeout", 1.0):
            for _ in use_storage(f"s3://k:s@{hung_server}/bucket"):
                started = time.monotonic()
                response = await send(worker_client, world, item_id, "r.pdf", pdf_bytes())
                elapsed = time.monotonic() - started
        assert get_settings().storage_read_timeout == 10.0  # the default, restored
        assert response.status_code == 503
        assert "stockage des documents ne répond pas" in html.unescape(response.text)
        assert elapsed < 8, elapsed  # minio's own client would wait 5 minutes per try
        assert await DocumentVersion.count() == 0


class TestSpool:
    async def test_a_full_disk_is_a_503_that_blames_the_server_and_is_logged(
        self,
        worker_client: httpx.AsyncClient,
        world: World,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
        tmp_path: Path,
    ) -> None:
        item_id = await make_item(world)

        def full(suffix: str = "") -> tuple[int, Path]:
            return os.open("/dev/full", os.O_WRONLY), tmp_path / "upload"  # writes: ENOSPC

        monkeypatch.setattr(spool, "new_file", full)
        with caplog.at_level(logging.ERROR, logger="portal.spool"):
            response = await send(worker_client, world, item_id, "r.pdf", pdf_bytes())
        assert response.status_code == 503
        text = html.unescape(response.text)
        assert "espace de travail est plein" in text and "rien n'a été enregistré" in text
        assert "disque plein" in caplog.text
        assert await DocumentVersion.count() == 0

    async def test_a_read_only_spool_is_a_503_too(
        self,
        worker_client: httpx.AsyncClient,
        world: World,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        import tempfile

        item_id = await make_item(world)

        def read_only(*args: object, **kwargs: object) -> tuple[int, str]:
            raise OSError(errno.EROFS, "Read-only file system")

        monkeypatch.setattr(tempfile, "mkstemp", read_only)
        with caplog.at_level(logging.ERROR, logger="portal.spool"):
            response = await send(worker_client, world, item_id, "r.pdf", pdf_bytes())
        assert response.status_code == 503
        assert "protégé en écriture" in html.unescape(response.text)
        assert "lecture seule" in caplog.text

    def test_files_of_dead_processes_and_old_files_are_removed_those_in_use_kept(self) -> None:
        folder = spool.directory()
        gone = subprocess.Popen([sys.executable, "-c", "pass"])
        gone.wait()
        dead = folder / f"{gone.pid}-killed-upload"
        dead.write_bytes(b"x")
        mine = folder / f"{os.getpid()}-in-progress"
        mine.write_bytes(b"x")
        old = folder / f"{os.getpid()}-forgotten"
        old.write_bytes(b"x")
        two_hours_ago = time.time() - 7200
        os.utime(old, (two_hours_ago, two_hours_ago))
        assert spool.sweep(dt.datetime.now(dt.UTC)) == 2
        assert not dead.exists() and not old.exists() and mine.exists()
        mine.unlink()


class TestWebStartsWithoutStorage:
    async def test_pages_work_uploads_say_why_and_the_bucket_appears_when_storage_returns(
        self, world: World, s3_server: str, tmp_path: Path
    ) -> None:
        from minio import Minio

        from tests.conftest import PASSWORD, listening_socket, port_of
        from tests.services import TcpProxy

        moto_port = int(s3_server.rsplit(":", 1)[1])
        proxy = TcpProxy(moto_port)  # not started: the storage is unreachable
        bucket = f"demarrage-{os.getpid()}-{int(time.time())}"
        listening = listening_socket()
        env = {
            **os.environ,
            "PORTAL_STORAGE_URL": f"s3://testing:testing@127.0.0.1:{proxy.port}/{bucket}",
            "PORTAL_STORAGE_CONNECT_TIMEOUT": "1",
            "PORTAL_DATA_DIR": str(tmp_path / "data"),
        }
        log = tmp_path / "serve.log"
        with log.open("wb") as out:
            web = subprocess.Popen(
                [sys.executable, "-m", "portal.cli", "serve", "--fd", str(listening.fileno())],
                pass_fds=(listening.fileno(),),
                env=env,
                stdout=out,
                stderr=out,
            )
        base = f"http://127.0.0.1:{port_of(listening)}"
        item_id = await make_item(world)
        try:
            async with httpx.AsyncClient(base_url=base, timeout=20) as client:
                for _ in range(120):
                    try:
                        health = await client.get("/healthz")
                        break
                    except httpx.TransportError:  # accepted, not answered yet: starting
                        assert web.poll() is None, log.read_text()
                        await asyncio.sleep(0.25)
                assert health.status_code == 200, health.text
                assert health.json()["checks"]["storage"]["state"] == "error"
                await login_over(client, world.tenant.association_worker.email, PASSWORD)
                assert (await client.get(f"/c/{world.tenant.slug}/")).status_code == 200
                refused = await send(client, world, item_id, "r.pdf", pdf_bytes())
                assert refused.status_code == 503
                assert "stockage des documents ne répond pas" in html.unescape(refused.text)

                await proxy.start()  # the storage is back
                direct = Minio(s3_server, "testing", "testing", secure=False, region="us-east-1")
                for _ in range(120):
                    if await asyncio.to_thread(direct.bucket_exists, bucket):
                        break
                    await asyncio.sleep(0.25)
                assert await asyncio.to_thread(direct.bucket_exists, bucket), log.read_text()
                accepted = await send(client, world, item_id, "r.pdf", pdf_bytes())
                assert accepted.status_code == 303
        finally:
            web.terminate()
            web.wait(timeout=20)
            listening.close()
            await proxy.cut()
        text = log.read_text()
        assert "Stockage des documents injoignable au démarrage" in text
        assert "Stockage des documents revenu" in text


async def login_over(client: httpx.AsyncClient, email: str, password: str) -> None:
    page = await client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    answer = await client.post(
        "/login", data={"csrf_token": token, "email": email, "password": password}
    )
    assert answer.status_code == 303
