"""The spool: local files on their way to object storage (uploads as they stream in, PDFs and
exports being prepared), under `PORTAL_SPOOL_DIR`.

Each file's name starts with the id of the process that made it. A process killed in the middle
of an upload leaves its file behind: at start-up a web process removes the files of processes
that no longer run, and the periodic sweep removes any older than `PORTAL_ORPHAN_GRACE`.

A full or read-only disk is an outage of the server, not a fault of the user: it raises
`SpoolUnavailable` (a 503 with a French message) and the cause is logged."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from portal.core.outage import Unavailable
from portal.settings import get_settings

log = logging.getLogger("portal.spool")
_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


class SpoolUnavailable(Unavailable):
    service = "spool"
    default_message = (
        "Le serveur ne peut pas recevoir de fichier pour le moment (son espace de travail est "
        "plein ou protégé en écriture) : rien n'a été enregistré. L'équipe technique est "
        "prévenue ; réessayez plus tard."
    )


def directory() -> Path:
    path = get_settings().spool_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unavailable(exc, path) from exc
    return path


def prefix() -> str:
    return f"{os.getpid()}-"


def unavailable(exc: OSError, path: Path | str) -> SpoolUnavailable:
    """The error to raise for `exc`; logs its cause once, here."""
    if exc.errno in _FULL:
        cause = "disque plein"
    elif exc.errno in _READ_ONLY:
        cause = "lecture seule ou accès refusé"
    else:
        cause = "erreur d'entrée-sortie"
    log.error("Espace de travail %s inutilisable (%s) : %s", path, cause, exc)
    return SpoolUnavailable(f"{path}: {cause}: {exc}")


def new_file(suffix: str = "") -> tuple[int, Path]:
    """An open file descriptor and its path, for the caller to write and remove."""
    folder = directory()
    try:
        handle, name = tempfile.mkstemp(dir=folder, prefix=prefix(), suffix=suffix)
    except OSError as exc:
        raise unavailable(exc, folder) from exc
    return handle, Path(name)


@contextlib.contextmanager
def temporary_file(suffix: str = "") -> Iterator[IO[bytes]]:
    folder = directory()
    try:
        handle = tempfile.NamedTemporaryFile(dir=folder, prefix=prefix(), suffix=suffix)
    except OSError as exc:
        raise unavailable(exc, folder) from exc
    with handle:
        yield handle


@contextlib.contextmanager
def temporary_directory() -> Iterator[Path]:
    folder = directory()
    try:
        made = tempfile.mkdtemp(dir=folder, prefix=prefix())
    except OSError as exc:
        raise unavailable(exc, folder) from exc
    try:
        yield Path(made)
    finally:
        shutil.rmtree(made, ignore_errors=True)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(at: dt.datetime, *, dead_processes: bool = True) -> int:
    """Removes the leftovers: files of processes that no longer run (`dead_processes`), and
    any file older than the orphan grace. Returns how many entries were removed."""
    folder = get_settings().spool_dir
    if not folder.is_dir():
        return 0
    grace = dt.timedelta(seconds=get_settings().orphan_grace_seconds)
    removed = 0
    for path in folder.iterdir():
        owner, _, _ = path.name.partition("-")
        try:
            old = at - dt.datetime.fromtimestamp(path.lstat().st_mtime, dt.UTC) > grace
        except FileNotFoundError:
            continue
        gone = dead_processes and owner.isdigit() and not _running(int(owner))
        if not (old or gone) or (owner.isdigit() and int(owner) == os.getpid() and not old):
            continue
        with contextlib.suppress(FileNotFoundError, PermissionError, OSError):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed += 1
    if removed:
        log.info("Espace de travail : %s fichier(s) abandonné(s) retiré(s)", removed)
    return removed
