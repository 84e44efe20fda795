"""A plain TCP proxy: every connection to 127.0.0.1:<listen> is forwarded to 127.0.0.1:<target>.

Run as ``python -m tests.faults.proxy --listen P --target Q``. The fault tests put it in front of
the S3 server: SIGSTOP on this process makes S3 "hang" (the kernel still accepts connections, no
byte ever comes back), SIGKILL makes S3 "refuse". SIGTERM / SIGINT close it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

CHUNK = 65536


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    """Copy bytes until EOF, then half-close the other side (so a client's shutdown(SHUT_WR)
    reaches the target, and the reverse)."""
    with contextlib.suppress(ConnectionError, OSError):
        while data := await src.read(CHUNK):
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()


class Proxy:
    """Accepts on the listen port, opens one upstream connection per client."""

    def __init__(self, listen: int, target: int) -> None:
        self.listen = listen
        self.target = target
        self._tasks: set[asyncio.Task[None]] = set()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            try:
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
            except OSError:
                # Target down: drop the client, as a dead upstream would.
                await _close(writer)
                return
            try:
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                await _close(up_writer)
                await _close(writer)
        finally:
            if task is not None:
                self._tasks.discard(task)

    async def run(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        server = await asyncio.start_server(
            self.handle, "127.0.0.1", self.listen, reuse_address=True, backlog=128
        )
        print(f"proxy 127.0.0.1:{self.listen} -> 127.0.0.1:{self.target}", flush=True)
        async with server:
            await stop.wait()
            server.close()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.wait(list(self._tasks), timeout=2)
        print("proxy stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--listen", type=int, required=True, help="port to listen on")
    parser.add_argument("--target", type=int, required=True, help="port to forward to")
    args = parser.parse_args(argv)
    asyncio.run(Proxy(args.listen, args.target).run())
    return 0


if __name__ == "__main__":
    sys.exit(main())
