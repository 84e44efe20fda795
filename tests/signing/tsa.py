"""A small but real RFC 3161 time-stamping server over HTTP, signing with the test authority's
time-stamping certificate, so that `HTTPTimeStamper` is exercised end to end."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType

from asn1crypto import tsp  # type: ignore[import-untyped]
from pyhanko.sign.timestamps import DummyTimeStamper

from portal.signing.authority import test_timestamper


class _ReusePortServer(ThreadingHTTPServer):
    allow_reuse_port = True  # beside the test's `reserved_socket`, which keeps the port


class TsaServer:
    """`with TsaServer(folder) as tsa: HTTPTimeStamper(tsa.url)`."""

    def __init__(self, authority_folder: Path, port: int = 0) -> None:
        self.stamper: DummyTimeStamper = test_timestamper(authority_folder)
        # 0: any free port; one kept by a `reserved_socket` brings an authority "back" there
        self.port = port
        self.requests = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "server not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/tsa"

    def start(self) -> TsaServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    self.send_error(415, "expected application/timestamp-query")
                    return
                try:
                    request = tsp.TimeStampReq.load(body)
                    request.native  # parse fully now: a malformed query is a 400  # noqa: B018
                except ValueError:
                    self.send_error(400, "malformed time-stamp query")
                    return
                reply = owner.stamper.request_tsa_response(request).dump()
                owner.requests += 1
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output quiet

        self._server = _ReusePortServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> TsaServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
