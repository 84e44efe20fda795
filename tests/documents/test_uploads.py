"""Uploading justificatifs: what is accepted, what is refused (with a French message and nothing
stored), versions, review, download, deletion, and isolation between consortia."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import io
import os
import zipfile

import httpx
import pytest

from portal.audit import repository as audit_repository
from portal.documents import repository as documents_repository
from portal.documents import service
from portal.documents.tables import DocumentItem, DocumentVersion
from portal.objects import service as objects
from portal.objects.tables import StoredObject
from portal.settings import get_settings
from tests.conftest import World, csrf_token, login
from tests.documents.conftest import make_item, pdf_bytes, send
from tests.services import setting

TODAY = dt.date(2026, 11, 22)


async def nothing_stored(storage) -> bool:  # type: ignore[no-untyped-def]
    spool = get_settings().spool_dir
    leftovers = list(spool.iterdir()) if spool.exists() else []
    return await DocumentVersion.count() == 0 and await storage.list("") == [] and leftovers == []


async def submitted_item(make_client, world: World, reviewer_email: str):  # type: ignore[no-untyped-def]
    """The association has uploaded a PDF; returns its client, the reviewer's, the item id, the
    item's page and the reviewer's CSRF token."""
    worker = make_client()
    await login(worker, world.tenant.association_worker.email)
    item_id = await make_item(world)
    await send(worker, world, item_id, "r.pdf", pdf_bytes())
    reviewer = make_client()
    await login(reviewer, reviewer_email)
    base = f"/c/{world.tenant.slug}/pieces/{item_id}"
    return worker, reviewer, item_id, base, await csrf_token(reviewer, base)


class TestAccepted:
    async def test_pdf_upload_download_and_audit(
        self, storage, worker_client: httpx.AsyncClient, world: World
    ) -> None:  # type: ignore[no-untyped-def]
        item_id = await make_item(world)
        content = pdf_bytes()
        response = await send(
            worker_client, world, item_id, "C:\\Users\\samia\\Documents\\rapport T3.pdf", content
        )
        assert response.status_code == 303
        [version] = await DocumentVersion.select()
        assert version["sha256"] == hashlib.sha256(content).hexdigest()
        assert version["filename"] == "rapport T3.pdf"
        assert version["storage_key"].startswith(f"{world.tenant.id}/")
        assert "rapport" not in version["storage_key"]
        download = await worker_client.get(
            f"/c/{world.tenant.slug}/pieces/{item_id}/versions/{version['id']}"
        )
        if download.status_code == 303:  # S3: a short-lived presigned URL
            async with httpx.AsyncClient() as direct:
                download = await direct.get(download.headers["location"])
        assert download.content == content
        events = await audit_repository.list_by_tag("documents:version:downloaded")
        assert [e["actor_email"] for e in events] == [world.tenant.association_worker.email]

    async def test_office_image_and_csv_are_recognised_by_content(
        self, storage, worker_client: httpx.AsyncClient, world: World
    ) -> None:  # type: ignore[no-untyped-def]
        item_id = await make_item(world)
        docx = io.BytesIO()
        with zipfile.ZipFile(docx, "w") as archive:
            archive.writestr("[Content_Types].xml", "<Types/>")
            archive.writestr("word/document.xml", "<w:document/>")
        samples = [
            ("facture.docx", docx.getvalue(), "docx"),
            ("photo", b"\x89PNG\r\n\x1a\n" + os.urandom(64), "png"),
            ("suivi.txt", b"nom;montant\nAlpha;12,50\nBeta;3,00\n", "csv"),
        ]
        for name, content, code in samples:
            assert (
                await send(worker_client, world, item_id, name, content, "application/octet-stream")
            ).status_code == 303
            latest = (
                await DocumentVersion.select()
                .order_by(DocumentVersion.number, ascending=False)
                .first()
            )
            assert latest is not None and latest["file_type"] == code

    async def test_new_upload_keeps_previous_versions(
        self, storage, worker_client: httpx.AsyncClient, world: World
    ) -> None:  # type: ignore[no-untyped-def]
        item_id = await make_item(world)
        await send(worker_client, world, item_id, "v1.pdf", pdf_bytes())
        await send(worker_client, world, item_id, "v2.pdf", pdf_bytes() + b"\n%")
        page = (await worker_client.get(f"/c/{world.tenant.slug}/pieces/{item_id}")).text
        assert "Version 2 : v2.pdf" in page and "Version 1 : v1.pdf" in page
        assert "Référente alpha-habitat" in page


class TestRefused:
    @pytest.mark.parametrize(
        ("name", "content", "message"),
        [
            ("rapport.pdf", b"MZ\x90\x00\x03" + os.urandom(2000), "programme exécutable"),
            ("rapport.pdf", pdf_bytes(password="secret"), "protégé par un mot de passe"),
            ("rapport.pdf", pdf_bytes()[:300], "endommagé ou incomplet"),
            ("rapport.pdf", pdf_bytes(javascript="app.alert('x');"), "code actif"),
            ("rapport.pdf", b"", "Le fichier est vide"),
            ("../../etc/rap\x07port\x00.pdf", pdf_bytes(), "caractères invisibles"),
            ("archive.zip", b"PK\x03\x04" + os.urandom(100), "n'est pas un document bureautique"),
        ],
        ids=[
            "renamed-exe",
            "encrypted-pdf",
            "truncated-pdf",
            "javascript-pdf",
            "empty",
            "control-chars",
            "zip",
        ],
    )
    async def test_bad_file_gets_its_message_and_nothing_is_stored(
        self,
        storage,
        worker_client: httpx.AsyncClient,
        world: World,
        name: str,
        content: bytes,
        message: str,  # type: ignore[no-untyped-def]
    ) -> None:
        item_id = await make_item(world)
        response = await send(worker_client, world, item_id, name, content)
        assert response.status_code == 400
        assert message in html.unescape(response.text)
        assert 'id="f-file-error"' in response.text
        assert await nothing_stored(storage)
        [item] = await DocumentItem.select(DocumentItem.status)
        assert item["status"] == "expected"

    async def test_oversized_file(
        self, storage, worker_client: httpx.AsyncClient, world: World
    ) -> None:  # type: ignore[no-untyped-def]
        item_id = await make_item(world)
        with setting("upload_max_bytes", 1024 * 1024):
            response = await send(
                worker_client, world, item_id, "gros.pdf", pdf_bytes() + b"0" * (2 * 1024 * 1024)
            )
        assert response.status_code == 413
        assert "dépasse la taille maximale de 1 Mo" in html.unescape(response.text)
        assert await nothing_stored(storage)

    async def test_identical_file_is_pointed_out(
        self, storage, worker_client: httpx.AsyncClient, world: World
    ) -> None:  # type: ignore[no-untyped-def]
        item_id = await make_item(world)
        content = pdf_bytes()
        await send(worker_client, world, item_id, "a.pdf", content)
        response = await send(worker_client, world, item_id, "b.pdf", content)
        assert response.status_code == 400
        assert "identique à la version 1" in html.unescape(response.text)
        assert await DocumentVersion.count() == 1
        assert len(await storage.list("")) == 1


class TestNothingLostNothingOrphaned:
    async def test_storage_down_fails_clearly_and_writes_no_row(
        self, worker_client: httpx.AsyncClient, world: World
    ) -> None:
        from tests.documents.conftest import use_storage

        item_id = await make_item(world)
        for _ in use_storage("s3://k:s@127.0.0.1:1/bucket"):
            response = await send(worker_client, world, item_id, "r.pdf", pdf_bytes())
        assert response.status_code == 503
        assert "stockage des documents ne répond pas" in html.unescape(response.text)
        assert await DocumentVersion.count() == 0

    async def test_database_down_after_storing_leaves_no_object(
        self,
        storage,
        worker_client: httpx.AsyncClient,
        world: World,
        monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
    ) -> None:
        item_id = await make_item(world)

        async def broken(*args: object, **kwargs: object) -> None:
            raise ConnectionRefusedError("database gone")

        monkeypatch.setattr(documents_repository, "insert_version", broken)
        response = await send(worker_client, world, item_id, "r.pdf", pdf_bytes())
        assert response.status_code == 503
        assert "rien n'a été conservé" in html.unescape(response.text)
        assert await storage.list("") == []
        assert await StoredObject.count() == 0

    async def test_object_left_by_a_double_failure_is_removed_by_the_sweep(
        self,
        storage,
        worker_client: httpx.AsyncClient,
        world: World,
        monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
    ) -> None:
        from portal.core.storage import StorageError

        item_id = await make_item(world)

        async def broken(*args: object, **kwargs: object) -> None:
            raise ConnectionRefusedError("database gone")

        async def cannot_delete(key: str) -> None:
            raise StorageError("down too")

        monkeypatch.setattr(documents_repository, "insert_version", broken)
        real_delete = storage.delete
        monkeypatch.setattr(storage, "delete", cannot_delete)
        await send(worker_client, world, item_id, "r.pdf", pdf_bytes())
        assert len(await storage.list("")) == 1
        monkeypatch.setattr(storage, "delete", real_delete)
        now = dt.datetime.now(dt.UTC)
        assert (await objects.sweep(now)).strays == 0  # too recent: maybe an upload in progress
        assert (await objects.sweep(now + dt.timedelta(hours=2))).strays == 1
        assert await storage.list("") == []

    async def test_soft_delete_then_purge_after_retention(
        self, storage, worker_client: httpx.AsyncClient, world: World
    ) -> None:  # type: ignore[no-untyped-def]
        item_id = await make_item(world)
        await send(worker_client, world, item_id, "r.pdf", pdf_bytes())
        [version] = await DocumentVersion.select()
        base = f"/c/{world.tenant.slug}/pieces/{item_id}"
        token = await csrf_token(worker_client, base)
        assert (
            await worker_client.post(
                f"{base}/versions/{version['id']}/suppression", data={"csrf_token": token}
            )
        ).status_code == 303
        assert (await worker_client.get(f"{base}/versions/{version['id']}")).status_code == 404
        [item] = await DocumentItem.select(DocumentItem.status)
        assert item["status"] == "expected"
        assert len(await storage.list("")) == 1  # kept during the retention period
        assert await service.purge_deleted(dt.datetime.now(dt.UTC)) == 0
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
        assert await service.purge_deleted(later) == 1
        assert await storage.list("") == []


class TestIsolation:
    async def test_other_consortium_cannot_list_download_or_guess(
        self,
        storage,
        make_client,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        owner = make_client()
        await login(owner, world.tenant.association_worker.email)
        item_id = await make_item(world)
        await send(owner, world, item_id, "confidentiel.pdf", pdf_bytes())
        [version] = await DocumentVersion.select()
        intruder = make_client()
        await login(intruder, world.other_tenant.pilot.email)
        for path in (
            f"/c/{world.tenant.slug}/pieces",
            f"/c/{world.tenant.slug}/pieces/{item_id}",
            f"/c/{world.tenant.slug}/pieces/{item_id}/versions/{version['id']}",
            f"/c/{world.other_tenant.slug}/pieces/{item_id}",
            f"/c/{world.other_tenant.slug}/pieces/{item_id}/versions/{version['id']}",
        ):
            assert (await intruder.get(path)).status_code == 404, path
        listing = (await intruder.get(f"/c/{world.other_tenant.slug}/pieces")).text
        assert "confidentiel" not in listing and "Rapport d'activité" not in listing

    async def test_another_association_of_the_consortium_does_not_see_it(
        self,
        storage,
        make_client,
        world: World,  # type: ignore[no-untyped-def]
    ) -> None:
        from portal.tenants import repository as tenants_repository

        item_id = await make_item(world)
        scope = world.tenant.scope
        from portal.demo import siret

        other_asso = await tenants_repository.insert_organisation(
            "Autre asso", siret("9999999990001"), ["association"], ""
        )
        await tenants_repository.insert_participation(scope, other_asso)
        from tests.conftest import _member, _person

        await _member(
            scope, await _person("autre@asso.example.org", "Autre"), other_asso, "association_staff"
        )
        client = make_client()
        await login(client, "autre@asso.example.org")
        assert (await client.get(f"/c/{world.tenant.slug}/pieces/{item_id}")).status_code == 404
        assert "Rapport d'activité" not in (await client.get(f"/c/{world.tenant.slug}/pieces")).text


class TestReview:
    async def test_to_complete_needs_a_comment_then_validate(
        self, storage, make_client, world: World
    ) -> None:  # type: ignore[no-untyped-def]
        assert world.tenant.state_agent is not None
        worker, reviewer, item_id, base, token = await submitted_item(
            make_client, world, world.tenant.state_agent.email
        )
        missing = await reviewer.post(
            f"{base}/revue", data={"csrf_token": token, "decision": "to_complete", "comment": ""}
        )
        assert missing.status_code == 400 and "Expliquez ce qu'il faut compléter" in html.unescape(
            missing.text
        )
        await reviewer.post(
            f"{base}/revue",
            data={
                "csrf_token": token,
                "decision": "to_complete",
                "comment": "Il manque la page 2.",
            },
        )
        assert "Il manque la page 2." in (await worker.get(base)).text
        await send(worker, world, item_id, "r2.pdf", pdf_bytes() + b"\n%")
        await reviewer.post(
            f"{base}/revue", data={"csrf_token": token, "decision": "validated", "comment": ""}
        )
        [item] = await DocumentItem.select(DocumentItem.status)
        assert item["status"] == "validated"

    async def test_association_cannot_review(
        self, storage, worker_client: httpx.AsyncClient, world: World
    ) -> None:  # type: ignore[no-untyped-def]
        item_id = await make_item(world)
        base = f"/c/{world.tenant.slug}/pieces/{item_id}"
        token = await csrf_token(worker_client, base)
        response = await worker_client.post(
            f"{base}/revue", data={"csrf_token": token, "decision": "validated"}
        )
        assert response.status_code == 403


class TestChecklist:
    async def test_quarterly_request_creates_one_item_per_quarter(self, world: World) -> None:
        await make_item(world, recurrence="quarterly")
        rows = await DocumentItem.select(DocumentItem.period_label, DocumentItem.due_on).order_by(
            DocumentItem.period_start
        )
        assert [(r["period_label"], r["due_on"]) for r in rows] == [
            ("T1 2026", dt.date(2026, 4, 30)),
            ("T2 2026", dt.date(2026, 7, 30)),
            ("T3 2026", dt.date(2026, 10, 30)),
            ("T4 2026", dt.date(2027, 1, 30)),
        ]
        assert await service.generate_items(dt.datetime(2026, 12, 1, tzinfo=dt.UTC)) == 0
        assert await service.generate_items(dt.datetime(2027, 1, 2, tzinfo=dt.UTC)) == 1

    async def test_pilot_sees_what_is_missing_at_a_glance(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await make_item(world, recurrence="quarterly")
        await login(client, world.tenant.pilot.email)
        page = html.unescape((await client.get(f"/c/{world.tenant.slug}/pieces")).text)
        assert "4 pièces · 4 manquantes" in page
        assert "en retard" in page

    async def test_request_form_errors(self, client: httpx.AsyncClient, world: World) -> None:
        await login(client, world.tenant.pilot.email)
        path = f"/c/{world.tenant.slug}/pieces"
        token = await csrf_token(client, path)
        response = await client.post(
            path,
            data={
                "csrf_token": token,
                "title": "Bilan",
                "organisation": str(world.tenant.association_id),
                "recurrence": "once",
                "due_on": "demain",
            },
        )
        assert response.status_code == 400 and 'id="f-due_on-error"' in response.text

    async def test_overdue_document_is_reminded(self, world: World, clock) -> None:  # type: ignore[no-untyped-def]
        from zoneinfo import ZoneInfo

        from portal.notifications import service as notifications
        from portal.reminders import service as reminders

        await make_item(world)  # due 15/12/2026, created now
        at = dt.datetime(2026, 12, 14, 10, tzinfo=ZoneInfo("Europe/Paris"))
        assert await reminders.scan(at) == 1
        [notification] = await notifications.of_user(world.tenant.association_worker.id)
        assert (
            notification["title"]
            == "Rappel : « Rapport d'activité » arrive à échéance le 15/12/2026"
        )


class TestUploadGuards:
    async def test_upload_without_csrf_token_is_refused(
        self, storage, worker_client: httpx.AsyncClient, world: World
    ) -> None:  # type: ignore[no-untyped-def]
        item_id = await make_item(world)
        response = await worker_client.post(
            f"/c/{world.tenant.slug}/pieces/{item_id}/versions",
            files={"file": ("r.pdf", pdf_bytes(), "application/pdf")},
        )
        assert response.status_code == 403
        assert await nothing_stored(storage)

    async def test_antivirus_refuses_an_infected_file(
        self, storage, worker_client: httpx.AsyncClient, world: World, tmp_path
    ) -> None:  # type: ignore[no-untyped-def]
        """A clamd stand-in on a Unix socket, speaking the INSTREAM protocol."""
        import asyncio
        import struct

        async def clamd(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            assert await reader.readexactly(10) == b"zINSTREAM\0"
            data = b""
            while size := struct.unpack("!L", await reader.readexactly(4))[0]:
                data += await reader.readexactly(size)
            verdict = b"stream: Eicar-Signature FOUND\0" if b"EICAR" in data else b"stream: OK\0"
            writer.write(verdict)
            await writer.drain()
            writer.close()

        socket_path = str(tmp_path / "clamd.sock")
        server = await asyncio.start_unix_server(clamd, socket_path)
        item_id = await make_item(world)
        try:
            with setting("clamd_socket", socket_path):
                infected = await send(
                    worker_client, world, item_id, "r.csv", b"a;b\nEICAR;1\nc;2\n", "text/csv"
                )
                clean = await send(
                    worker_client, world, item_id, "r.csv", b"a;b\nok;1\nc;2\n", "text/csv"
                )
            with setting("clamd_socket", str(tmp_path / "absent.sock")):
                unreachable = await send(
                    worker_client, world, item_id, "s.csv", b"a;b\nx;1\nc;2\n", "text/csv"
                )
        finally:
            server.close()
            await server.wait_closed()
        assert infected.status_code == 400 and "contient un virus" in html.unescape(infected.text)
        assert clean.status_code == 303
        assert unreachable.status_code == 400 and "antivirus est indisponible" in html.unescape(
            unreachable.text
        )
        assert await DocumentVersion.count() == 1

    async def test_unknown_review_decision_is_explained(
        self, storage, make_client, world: World
    ) -> None:  # type: ignore[no-untyped-def]
        _, pilot, _, base, token = await submitted_item(
            make_client, world, world.tenant.pilot.email
        )
        response = await pilot.post(
            f"{base}/revue", data={"csrf_token": token, "decision": "peut-être"}
        )
        assert response.status_code == 400
        assert "Choisissez de valider la pièce ou de la faire compléter." in html.unescape(
            response.text
        )
