"""Uploaded PDFs appended to a convention's PDF: checked, scanned, stored, never overwritten."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import anyio.to_thread

from portal.auth.service import CurrentUser
from portal.conventions import repository
from portal.conventions.service import (
    Opened,
    Row,
    record,
    require_edit,
)
from portal.core import antivirus, clock
from portal.core.actor import Actor
from portal.core.db import transaction
from portal.core.outage import Unavailable
from portal.core.storage import get_storage
from portal.documents import service as documents
from portal.documents.service import ReceivedFile, UploadRefused
from portal.objects import service as objects

OWNER = "conventions"  # in the ledger of objects

# Annexes -------------------------------------------------------------------------------------


def _count_pages(path: Path) -> int:
    from pypdf import PdfReader  # here: not loaded by every process at start

    with path.open("rb") as handle:
        return len(PdfReader(handle).pages)


async def add_annex(
    actor: Actor, opened: Opened, user: CurrentUser, title: str, received: ReceivedFile
) -> None:
    """A PDF appended to the convention's PDF. Raises `UploadRefused`; nothing stays stored
    when refused."""
    try:
        require_edit(opened)
        if not title:
            raise UploadRefused("Donnez un titre à l'annexe.", "title")
        file_type = await anyio.to_thread.run_sync(documents.inspect_file, received)
        if file_type.code != "pdf":
            raise UploadRefused("Une annexe de convention doit être un fichier PDF.")
        pages = await anyio.to_thread.run_sync(_count_pages, received.path)
        try:
            await antivirus.scan(received.path)
        except antivirus.ScanRefused as exc:
            raise UploadRefused(exc.message) from exc
        key = f"conventions/{opened.ctx.consortium_id}/{opened.id}/annexes/{uuid.uuid4().hex}.pdf"
        try:
            async with objects.stored(
                key,
                received.path,
                "application/pdf",
                owner=OWNER,
                consortium_id=opened.ctx.consortium_id,
            ) as handle:
                async with transaction():
                    await repository.insert_annex(
                        opened.ctx,
                        {
                            "convention": opened.id,
                            "title": title,
                            "filename": documents.clean_filename(received.filename, file_type),
                            "storage_key": key,
                            "sha256": received.sha256,
                            "size": received.size,
                            "pages": pages,
                            "uploaded_by_name": user.full_name,
                        },
                    )
                    await record(actor, opened, user, f"Annexe ajoutée : {title}")
                    await handle.confirm()
        except Unavailable as exc:
            raise UploadRefused(exc.message, status_code=503) from exc
    finally:
        received.discard()


async def remove_annex(
    actor: Actor, opened: Opened, user: CurrentUser, annex_id: uuid.UUID
) -> None:
    require_edit(opened)
    annex = await repository.annex(opened.ctx, opened.id, annex_id)
    if annex is None or annex["removed_at"] is not None:
        raise LookupError(annex_id)
    async with transaction():
        await repository.remove_annex(opened.ctx, opened.id, annex_id, clock.now())
        await record(actor, opened, user, f"Annexe retirée : {annex['title']}")


async def annex_chunks(opened: Opened, annex_id: uuid.UUID) -> tuple[Row, AsyncIterator[bytes]]:
    annex = await repository.annex(opened.ctx, opened.id, annex_id)
    if annex is None:
        raise LookupError(annex_id)
    return annex, await get_storage().open(annex["storage_key"])
