"""Receiving an upload: the multipart body is parsed as it streams in and the file part goes to a
temporary file on disk, hashed and counted on the way, so memory stays flat whatever the size;
the upload stops as soon as it passes the size limit. A full or read-only spool disk raises
`SpoolUnavailable` (a 503), never a message that blames the user's file.

It reads the request, so it is the web layer's: this domain's pages and the conventions' (annexes)
call it (tests/test_layers.py, rule 1)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from portal.core import body, spool
from portal.documents.upload import ReceivedFile, ReceivedForm, UploadRefused

HEAD_BYTES = 8192


@dataclass
class _Part:
    """Parser state of the part being read."""

    header: bytes = b""
    value: bytes = b""
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    buffer: bytes = b""


def _too_big_message(max_bytes: int) -> str:
    return (
        f"Le fichier dépasse la taille maximale de {max_bytes // (1024 * 1024)} Mo. "
        "Réduisez-le (par exemple en l'enregistrant en PDF compressé) ou découpez-le."
    )


async def receive_upload(request: Request, file_field: str, max_bytes: int) -> ReceivedForm:
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in options:
        raise UploadRefused(
            "Le formulaire d'envoi est invalide : rechargez la page et recommencez."
        )
    if body.declared_over(request, max_bytes):
        raise UploadRefused(_too_big_message(max_bytes), status_code=413)

    handle, path = spool.new_file()
    received = ReceivedFile(path=path)
    out = os.fdopen(handle, "wb")
    digest = hashlib.sha256()
    form = ReceivedForm()
    part = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part.header += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part.value += data[start:end]

    def on_header_end() -> None:
        part.headers[part.header.lower()] = part.value
        part.header, part.value = b"", b""

    def on_headers_finished() -> None:
        _, params = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.name = params.get(b"name", b"").decode("utf-8", "replace")
        if part.name == file_field:
            received.filename = params.get(b"filename", b"").decode("utf-8", "replace")
        part.buffer = b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if part.name == file_field:
            received.size += len(chunk)
            if received.size > max_bytes:
                raise UploadRefused(_too_big_message(max_bytes), status_code=413)
            if len(received.head) < HEAD_BYTES:
                received.head += chunk[: HEAD_BYTES - len(received.head)]
            digest.update(chunk)
            out.write(chunk)
        else:
            part.buffer += chunk
            if len(part.buffer) > 64 * 1024:
                raise UploadRefused("Un champ du formulaire est trop long.", part.name)

    def on_part_end() -> None:
        if part.name == file_field:
            form.file = received
        else:
            form.fields[part.name] = part.buffer.decode("utf-8", "replace")
        part.headers = {}

    parser = MultipartParser(
        options[b"boundary"],
        {
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
        out.close()
    except UploadRefused:
        _close_quietly(out)
        received.discard()
        raise
    except OSError as exc:  # the spool disk: full, read-only, failing
        _close_quietly(out)
        received.discard()
        raise spool.unavailable(exc, path) from exc
    except Exception as exc:  # a malformed body from a broken client
        _close_quietly(out)
        received.discard()
        raise UploadRefused("L'envoi a été interrompu ou est mal formé : recommencez.") from exc
    received.sha256 = digest.hexdigest()
    if form.file is None:
        received.discard()
    return form


def _close_quietly(out: object) -> None:
    # Closing flushes: on a full disk that fails again.
    try:
        out.close()  # type: ignore[attr-defined]
    except OSError:
        pass
