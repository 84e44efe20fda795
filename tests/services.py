"""Real components for the job tests: an SMTP server (aiosmtpd) that captures messages, a TCP
proxy in front of Redis that can be cut, a `portal serve` process, and helpers to point the
portal at them."""

from __future__ import annotations

import asyncio
import contextlib
import email
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from email import policy
from email.message import EmailMessage
from typing import Any

import httpx
from aiosmtpd.controller import Controller

from portal.settings import get_settings
from tests.conftest import listening_socket, port_of, reserved_socket


class CapturingHandler:
    """Keeps every message the server accepted. `hold` makes the next DATA wait until
    `release()`; a message whose client vanished meanwhile is not kept (never delivered).
    `reject` answers every DATA with a permanent refusal (550)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.hold = False
        self.reject = False
        self.arrived = threading.Event()
        self._released = threading.Event()

    def release(self) -> None:
        self._released.set()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.reject:
            return "550 5.7.1 Message refused"
        if self.hold:
            self.hold = False
            self.arrived.set()
            while not self._released.is_set():
                await asyncio.sleep(0.05)
            if server.transport is None or server.transport.is_closing():
                return "451 client gone"
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


class _ReusePortController(Controller):
    """aiosmtpd's controller, binding with SO_REUSEPORT: beside the socket that keeps the port
    reserved (see `reserved_socket`), while it runs and while it is stopped."""

    def _create_server(self) -> Any:
        return self.loop.create_server(
            self._factory_invoker, host=self.hostname, port=self.port, reuse_port=True
        )


class SmtpServer:
    """Stopped and started again on the same port ("the SMTP server is down"): connections are
    refused meanwhile, and the port stays this server's."""

    def __init__(self) -> None:
        self._reserved = reserved_socket()
        self.port = port_of(self._reserved)
        self.handler = CapturingHandler()
        self._controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._controller = _ReusePortController(self.handler, hostname="127.0.0.1", port=self.port)
        self._controller.start()

    def stop(self) -> None:
        if self._controller:
            self._controller.stop()
            self._controller = None

    def close(self) -> None:
        """Stopped for good: the port is given back."""
        self.stop()
        self._reserved.close()


@contextlib.contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.close()


@contextlib.contextmanager
def setting(name: str, value: object) -> Iterator[None]:
    """Settings are frozen and read once; tests swap one value for a while."""
    settings = get_settings()
    before = getattr(settings, name)
    object.__setattr__(settings, name, value)
    try:
        yield
    finally:
        object.__setattr__(settings, name, before)


class TcpProxy:
    """127.0.0.1:port → target, cut and restored at will (Redis "unreachable")."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self._reserved = reserved_socket()  # the port stays this proxy's while it is cut
        self.port = port_of(self._reserved)
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_port=True
        )

    async def cut(self) -> None:
        if self._server:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):
            writer.close()
        self._writers.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._writers.update({writer, up_writer})

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@contextlib.contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word: a hung SMTP or S3 server."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    kept: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                kept.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for sock in kept:
            sock.close()
        listener.close()


@contextlib.contextmanager
def portal_server(
    *args: str, base_env: Mapping[str, str] | None = None, **env: str
) -> Iterator[str]:
    """`portal serve` with these arguments, on a socket kept from the bind to the end, once it
    is healthy; with these settings on top of `base_env` (by default, the tests' own)."""
    listening = listening_socket()  # kept until the server is gone: the port is never free
    url = f"http://127.0.0.1:{port_of(listening)}"
    process = subprocess.Popen(
        [sys.executable, "-m", "portal.cli", "serve", "--fd", str(listening.fileno()), *args],
        pass_fds=(listening.fileno(),),
        env={**(os.environ if base_env is None else base_env), "PORTAL_BASE_URL": url, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_healthy(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        listening.close()


def _wait_healthy(url: str, process: subprocess.Popen[str]) -> None:
    # A loaded machine (CI runs both engines side by side) may take long to start it: this waits
    # on its health, it measures nothing.
    deadline = time.monotonic() + 120
    last = "no answer"
    # One client for the whole wait: each `httpx.get` built a client, and its TLS context
    # (20 ms of CPU), five times a second.
    with httpx.Client(timeout=2) as poller:
        while time.monotonic() < deadline:
            try:
                health = poller.get(f"{url}/healthz")
                if health.status_code == 200:
                    return
                last = f"{health.status_code} {health.text[:300]}"
            except httpx.TransportError:
                pass
            time.sleep(0.2)
            if process.poll() is not None:
                raise RuntimeError(
                    f"portal serve stopped:\n{process.stdout.read() if process.stdout else ''}"
                )
    raise RuntimeError(f"portal serve was not healthy within 120 s: {last}")
