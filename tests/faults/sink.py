"""An SMTP sink: accepts every message and stores it as one ``.eml`` file.

Run as ``python -m tests.faults.sink --port P --folder DIR``. Each accepted message is written
atomically (temporary name, then ``os.replace``) as ``<folder>/<time_ns>-<random>.eml``, and only
then is 250 answered: a message the client saw accepted is on disk, even if the sink is SIGKILLed
right after. SIGTERM / SIGINT stop it cleanly.

A file ``<folder>/.delay`` holding a number of seconds makes the sink wait that long before it
stores and answers each message, as a distant server does: a client killed meanwhile has handed
its message over without learning that it was accepted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import signal
import sys
import time
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP


def store(folder: Path, content: bytes) -> Path:
    """Write one message durably under its final name; return that name."""
    name = f"{time.time_ns()}-{secrets.token_hex(6)}"
    tmp = folder / f".{name}.tmp"
    final = folder / f"{name}.eml"
    with open(tmp, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    return final


class SinkHandler:
    """aiosmtpd handler: DATA is written to the folder before the 250."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        delay = self.folder / ".delay"
        if delay.exists():
            await asyncio.sleep(float(delay.read_text() or 0))
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        try:
            path = await asyncio.to_thread(store, self.folder, bytes(content))
        except OSError as exc:
            print(f"could not store message: {exc!r}", flush=True)
            return "451 Requested action aborted: local error in processing"
        print(f"stored {path.name} from {envelope.mail_from} to {envelope.rcpt_tos}", flush=True)
        return "250 Message accepted for delivery"


async def serve(port: int, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    handler = SinkHandler(folder)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def factory() -> SMTP:
        # An explicit hostname: the default (socket.getfqdn()) can block without a resolver.
        return SMTP(handler, hostname="sink.faults.test", enable_SMTPUTF8=True)

    server = await loop.create_server(factory, host="127.0.0.1", port=port, reuse_address=True)
    print(f"smtp sink on 127.0.0.1:{port}, folder {folder}", flush=True)
    async with server:
        await stop.wait()
    print("smtp sink stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True, help="port to listen on")
    parser.add_argument("--folder", type=Path, required=True, help="where messages are written")
    args = parser.parse_args(argv)
    asyncio.run(serve(args.port, args.folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
