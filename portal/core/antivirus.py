"""Optional antivirus: when `PORTAL_CLAMD_SOCKET` is set, each upload is streamed to clamd
(INSTREAM command over its Unix socket) before it is stored."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

import anyio

from portal.settings import get_settings

CHUNK = 64 * 1024


class ScanRefused(Exception):
    """The file must not be stored: infected, or not scanned (fail closed). French message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


async def scan(path: Path) -> None:
    socket_path = get_settings().clamd_socket
    if not socket_path:
        return
    try:
        reader, writer = await asyncio.open_unix_connection(socket_path)
        writer.write(b"zINSTREAM\0")
        async with await anyio.open_file(path, "rb") as handle:
            while chunk := await handle.read(CHUNK):
                writer.write(struct.pack("!L", len(chunk)) + chunk)
                await writer.drain()
        writer.write(struct.pack("!L", 0))
        await writer.drain()
        answer = (await reader.read(4096)).rstrip(b"\0").decode("utf-8", "replace")
        writer.close()
    except OSError as exc:
        raise ScanRefused(
            "L'analyse antivirus est indisponible : le fichier n'a pas été enregistré. "
            "Réessayez dans quelques minutes."
        ) from exc
    if answer.endswith("FOUND"):
        raise ScanRefused("Ce fichier contient un virus selon l'antivirus : il est refusé.")
    if not answer.endswith("OK"):
        raise ScanRefused("L'antivirus n'a pas pu analyser ce fichier : il n'a pas été enregistré.")
