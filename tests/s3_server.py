"""moto's S3 server on a listening socket inherited from the test that started it:
`python -m tests.s3_server <descriptor>` (moto's own `main()` only takes a port number)."""

from __future__ import annotations

import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server


def main() -> None:
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(
        "127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler, fd=int(sys.argv[1])
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
