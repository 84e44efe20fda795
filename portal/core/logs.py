"""One logging set-up for every `portal` command: timestamps, level, logger and process id on
each line, through the `logging` module (uvicorn's and arq's loggers included).

What is logged names things by id (a job's name and id, an object's key, an error's type):
never a person's details or a household's, which stay in the database."""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s[%(process)d] %(message)s"
_configured = False


def configure(level: str = "INFO") -> None:
    global _configured
    if _configured:
        return
    _configured = True
    root = logging.getLogger()
    if not root.handlers:  # a test runner's handlers are left alone
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
    # Uvicorn and arq bring their own handlers when they configure logging themselves; ours
    # is the only one, so lines look the same whoever writes them.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "arq", "arq.worker"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # The minio SDK's connection pool logs every retry at WARNING: one line per outage is ours.
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    for chatty in ("piccolo", "weasyprint", "fontTools"):  # INFO lines for every step
        logging.getLogger(chatty).setLevel(logging.WARNING)
    # asyncpg logs a trace each second it cannot refill its pool during an outage; the relay
    # and the jobs say it once.
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)
