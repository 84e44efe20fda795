"""Process harness of the fault-injection tests.

Every component is a real server started as a child process on a free 127.0.0.1 port, with its
files (data, logs) under a root folder given by the test (``tmp_path``): its own PostgreSQL
cluster, its own Redis, moto's S3 server behind a TCP proxy that can be frozen or killed, an SMTP
sink writing one file per message, a small tmpfs that can be filled or made read-only, and the
portal's own processes. The machine's shared PostgreSQL and Redis are never touched.

All classes are synchronous (plain ``subprocess``); from async code call them through
``asyncio.to_thread``. Each has an idempotent ``close()`` that stops everything it started, and
``Stack`` owns a set of components and closes them in reverse order, even when the test failed.
Whatever a test forgot to close is closed at interpreter exit. Every child's stdout and stderr go
to a ``*.log`` file under the root folder (``Stack.report()`` gathers their tails).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import pwd
import shlex
import signal
import socket
import stat
import subprocess
import sys
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, TypeVar

import httpx
from minio import Minio
from minio.error import S3Error

REPO_ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("PORTAL_FAULTS_PG_BIN", "/usr/lib/postgresql/15/bin"))
PG_USER = "postgres"
S3_ACCESS_KEY = "testing"
S3_SECRET_KEY = "testing"
S3_REGION = "us-east-1"


class HarnessError(RuntimeError):
    """A component could not be started, stopped or reached; the message carries its log tail."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel's choice for a bind to port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(
    predicate: Callable[[], bool], timeout: float, interval: float = 0.2, what: str = ""
) -> None:
    """Poll ``predicate`` until it returns true; AssertionError(what) after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if time.monotonic() >= deadline:
            raise AssertionError(what or f"condition not met within {timeout:g} s")
        time.sleep(interval)


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """True when a TCP connection to host:port is accepted (by the kernel, at least)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 60) -> str:
    """The last ``lines`` lines of a log file ("" when it does not exist yet)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


class Component(Protocol):
    """What ``Stack`` owns: anything with an idempotent ``close()``."""

    def close(self) -> None: ...


C = TypeVar("C", bound=Component)

# Every component built (weakly): closed (again: close() is idempotent) at interpreter exit, so
# that no process or mount survives a test run that forgot one. A SIGKILLed pytest cannot be
# covered, nor a process that daemonizes (forks and leaves before anyone looks at its children).
_LIVE: weakref.WeakSet[_Closeable] = weakref.WeakSet()


class _Closeable:
    """Context-manager behaviour shared by every component (``with Redis(root) as redis:``)."""

    def __init__(self) -> None:
        _LIVE.add(self)

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@atexit.register
def _close_leftovers() -> None:
    for component in list(_LIVE):
        with contextlib.suppress(Exception):
            component.close()


class _Child:
    """One child process in its own session / process group, output appended to a log file.

    The child is reaped only by ``kill()``, after its group and its descendants were SIGKILLed
    (the pid is ours until then, so no signal can reach a stranger reusing it); a graceful stop
    ends with ``kill()`` as well, so that nothing the child forked survives it."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
    ) -> None:
        self.name = name
        self.argv = [str(arg) for arg in argv]
        self.log = log
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.user = user
        self.popen: subprocess.Popen[bytes] | None = None
        self._status: int | None = None  # exit status, known before reaping

    def _exited(self) -> bool:
        """Has the child exited? Without reaping it (a zombie keeps its pid and group ours)."""
        if self.popen is None or self.popen.returncode is not None:
            return True
        if self._status is not None:
            return True
        try:
            info = os.waitid(os.P_PID, self.popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        if info is None or info.si_pid == 0:
            return False
        killed = info.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
        self._status = -info.si_status if killed else info.si_status
        return True

    @property
    def alive(self) -> bool:
        return self.popen is not None and not self._exited()

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    @property
    def returncode(self) -> int | None:
        if self.popen is None:
            return None
        if self.popen.returncode is not None:
            return self.popen.returncode
        return self._status if self._exited() else None

    def start(self) -> None:
        if self.popen is not None and self.popen.returncode is None:
            if self.alive:
                raise HarnessError(f"{self.name} is already running (pid {self.pid})")
            self.kill()  # reap the previous run (and whatever it left)
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self._status = None
        with open(self.log, "ab") as log:
            stamp = time.strftime("%H:%M:%S")
            log.write(f"\n=== {stamp} start {self.name}: {shlex.join(self.argv)}\n".encode())
            log.flush()
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                close_fds=True,
                user=self.user,
                group=self.user,
                extra_groups=[] if self.user is not None else None,
            )

    def send(self, sig: signal.Signals) -> None:
        """Signal the child itself (not its group); nothing once it has exited."""
        if self.popen is not None and self.popen.returncode is None and not self._exited():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, sig)

    def wait(self, timeout: float) -> bool:
        """Wait (without reaping) for the child to exit; False on timeout."""
        deadline = time.monotonic() + timeout
        while not self._exited():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def kill(self) -> None:
        """SIGKILL the child, its process group and its descendants (a crash), then reap it.
        Nothing when already reaped."""
        popen = self.popen
        if popen is None or popen.returncode is not None:
            return
        victims: set[int] = set()
        for _ in range(3):
            found = _descendants(popen.pid)
            victims.update(found)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(popen.pid, signal.SIGKILL)
            for pid in found:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            if self.wait(10) and not _descendants(popen.pid):
                break
        if not self.wait(0):
            raise HarnessError(f"{self.name} (pid {popen.pid}) survived SIGKILL")
        popen.wait()
        # Descendants were re-parented when the child died: wait until they are dead too.
        deadline = time.monotonic() + 10
        while (left := [pid for pid in victims if _running(pid)]) and time.monotonic() < deadline:
            time.sleep(0.02)
        if left:
            raise HarnessError(f"{self.name}: processes {left} survived SIGKILL")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 15) -> int | None:
        """Send ``sig`` (and SIGCONT, should it be stopped), wait up to ``timeout`` seconds, then
        SIGKILL; whatever is left of its group and descendants is killed. Returns the status."""
        if self.popen is None:
            return None
        if not self._exited():
            self.send(sig)
            self.send(signal.SIGCONT)
            if not self.wait(timeout):
                self._write_log(f"=== {self.name} still running {timeout:g} s after {sig.name}\n")
        self.kill()
        return self.popen.returncode

    def _write_log(self, text: str) -> None:
        with open(self.log, "a", encoding="utf-8") as log:
            log.write(text)

    def check_alive(self, what: str) -> None:
        if not self.alive:
            raise HarnessError(
                f"{self.name} exited (status {self.returncode}) {what}; log {self.log}:\n"
                + tail(self.log)
            )


def _running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (read from /proc, never signalled)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            state = handle.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


def _descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid`` (from /proc), children first. PostgreSQL's backends, for
    one, leave the postmaster's process group (setsid), so a group kill misses them."""
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                fields = handle.read().rpartition(b")")[2].split()
        except OSError:
            continue
        if len(fields) > 1:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found: list[int] = []
    queue = [pid]
    while queue:
        children = parents.get(queue.pop(0), [])
        found.extend(children)
        queue.extend(children)
    return found


def _wait_child(child: _Child, ready: Callable[[], bool], timeout: float, what: str) -> None:
    """Wait until ``ready()``, failing early (with the log) when the child died."""
    deadline = time.monotonic() + timeout
    while True:
        child.check_alive(f"while waiting until {what}")
        if ready():
            return
        if time.monotonic() >= deadline:
            raise HarnessError(
                f"{child.name} not ready ({what}) after {timeout:g} s; log {child.log}:\n"
                + tail(child.log)
            )
        time.sleep(0.05)


def _wait_port_closed(port: int, timeout: float, what: str) -> None:
    wait_until(lambda: not port_open(port), timeout, 0.05, what)


def _python_env() -> dict[str, str]:
    """Environment for our own Python helper scripts: ``tests.faults`` importable."""
    env = dict(os.environ)
    paths = [str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    return env


# --------------------------------------------------------------------------------- PostgreSQL


class Postgres(_Closeable):
    """A PostgreSQL cluster of its own under ``<root>/pg`` (fsync off, small buffers), listening
    on 127.0.0.1 on a free port; to stop, restart or crash the database under the portal.

    PostgreSQL refuses to run as root: initdb and the postmaster run as the ``postgres`` system
    user (``subprocess.Popen(user=...)``, so that the postmaster is our direct child and fast
    shutdown is a plain SIGINT to it). The data and socket directories are owned by that user,
    and the root folder and its parents get the "others may traverse" bit (o+x) when they lack it
    (``tmp_path`` lives under a 0700 folder), so that the postmaster can reach its data."""

    def __init__(self, root: Path, *, shared_buffers: str = "16MB", max_connections: int = 100):
        super().__init__()
        self.root = root
        self.port = free_port()
        self.data = root / "pg"
        self.socket_dir = root / "pg-socket"
        self.log = root / "postgres.log"
        self.shared_buffers = shared_buffers
        self.max_connections = max_connections
        self._entry = pwd.getpwnam(PG_USER)
        self._env = {
            "PATH": f"{PG_BIN}:/usr/bin:/bin",
            "LC_ALL": "C.UTF-8",
            "LANG": "C.UTF-8",
            "HOME": str(self.data),
            "TZ": "UTC",
        }
        argv = [
            str(PG_BIN / "postgres"),
            "-D", str(self.data),
            "-c", f"port={self.port}",
            "-c", "listen_addresses=127.0.0.1",
            "-c", f"unix_socket_directories={self.socket_dir}",
            "-c", "fsync=off",
            "-c", "synchronous_commit=off",
            "-c", "full_page_writes=off",
            "-c", f"shared_buffers={shared_buffers}",
            "-c", f"max_connections={max_connections}",
            "-c", "logging_collector=off",
            "-c", "log_min_messages=warning",
        ]  # fmt: skip
        self._child = _Child("postgres", argv, self.log, env=self._env, cwd=self.data, user=PG_USER)

    def url(self, database: str = "postgres") -> str:
        """``postgresql://postgres@127.0.0.1:<port>/<database>`` (trust authentication)."""
        return f"postgresql://{PG_USER}@127.0.0.1:{self.port}/{database}"

    @property
    def pid(self) -> int | None:
        """The postmaster's pid (None before the first start)."""
        return self._child.pid

    def _prepare_dirs(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for folder in (self.root.resolve(), *self.root.resolve().parents):
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH:
                os.chmod(folder, stat.S_IMODE(mode) | stat.S_IXOTH)
        for folder in (self.data, self.socket_dir):
            folder.mkdir(mode=0o700, exist_ok=True)
            os.chown(folder, self._entry.pw_uid, self._entry.pw_gid)
            os.chmod(folder, 0o700)

    def initdb(self) -> None:
        """Create the cluster, once (``initdb -U postgres --auth=trust``, no fsync)."""
        if (self.data / "PG_VERSION").exists():
            return
        self._prepare_dirs()
        argv = [
            str(PG_BIN / "initdb"), "-D", str(self.data), "-U", PG_USER, "--auth=trust",
            "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions",
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            log.write(f"=== initdb: {shlex.join(argv)}\n".encode())
            log.flush()
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
                cwd=self.data,
                user=PG_USER,
                group=PG_USER,
                extra_groups=[],
                timeout=180,
                check=False,
            )
        if done.returncode != 0:
            raise HarnessError(
                f"initdb failed ({done.returncode}); log {self.log}:\n{tail(self.log)}"
            )

    def start(self, timeout: float = 60) -> None:
        """initdb when needed, start the postmaster, wait until it accepts connections."""
        if self._child.alive:
            return
        self.initdb()
        self._prepare_dirs()
        self._child.start()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until the server accepts connections (HarnessError with the log otherwise)."""
        _wait_child(self._child, self.is_up, timeout, f"127.0.0.1:{self.port} accepts connections")

    def is_up(self) -> bool:
        """True when the postmaster runs and accepts connections (``pg_isready``)."""
        if not self._child.alive:
            return False
        done = subprocess.run(
            [str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(self.port),
             "-U", PG_USER, "-d", "postgres", "-t", "2"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self._env,
            check=False,
        )  # fmt: skip
        return done.returncode == 0

    def stop(self, timeout: float = 30) -> None:
        """Fast shutdown (SIGINT: sessions are cut, no checkpoint wait), wait until it is down;
        SIGKILL of the whole group after ``timeout``."""
        self._child.stop(signal.SIGINT, timeout)
        _wait_port_closed(self.port, 10, f"postgres still listening on {self.port} after stop")

    def crash(self) -> None:
        """SIGKILL the postmaster and every backend (recovery runs at the next start)."""
        self._child.kill()

    def restart(self, timeout: float = 60) -> None:
        """Fast restart: fast shutdown, start again on the same port, wait for connections."""
        self.stop()
        self.start(timeout)

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL with psql (``ON_ERROR_STOP``), return its unaligned, tuples-only output."""
        done = subprocess.run(
            [str(PG_BIN / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, "-d", database, "-c", sql],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self._env,
            timeout=60,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise HarnessError(f"psql failed ({done.returncode}) on {sql!r}: {done.stderr}")
        return done.stdout

    def create_database(self, name: str) -> None:
        """CREATE DATABASE (the name is quoted as an identifier)."""
        quoted = '"' + name.replace('"', '""') + '"'
        self.psql(f"CREATE DATABASE {quoted}")

    def close(self) -> None:
        """Stop the server (the data folder is left for inspection)."""
        self._child.stop(signal.SIGINT, 15)


# -------------------------------------------------------------------------------------- Redis


class Redis(_Closeable):
    """A redis-server of its own on a free port, without persistence; to crash (``kill()``) and
    bring back (``start()``, same port, empty) the queue and cache under the portal."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.port = free_port()
        self.dir = root / "redis"
        self.log = root / "redis.log"
        argv = [
            "redis-server",
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.dir),
            "--daemonize", "no",
            "--logfile", "",
            "--databases", "16",
        ]  # fmt: skip
        self._child = _Child("redis", argv, self.log, cwd=root)

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self._child.pid

    def start(self, timeout: float = 15) -> None:
        """Start (again, on the same port) and wait until it answers PING."""
        if self._child.alive:
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        self._child.start()
        _wait_child(self._child, self.is_up, timeout, "redis answers PING")

    def is_up(self) -> bool:
        """True when the server answers PING."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL, as a crash; returns when the port refuses connections."""
        self._child.kill()
        _wait_port_closed(self.port, 10, f"redis still listening on {self.port} after SIGKILL")

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (clean shutdown), SIGKILL after ``timeout``."""
        self._child.stop(signal.SIGTERM, timeout)

    def close(self) -> None:
        self._child.stop(signal.SIGTERM, 5)


# ----------------------------------------------------------------------------------------- S3


class S3(_Closeable):
    """moto's S3 server on an inner port, behind ``tests/faults/proxy.py`` on an outer port: the
    portal is given the outer port; ``hang()`` freezes the proxy (SIGSTOP: connections are
    accepted by the kernel, no byte comes back), ``refuse()`` kills it (connection refused).
    ``keys()`` and ``make_bucket()`` talk to moto directly, bypassing the proxy."""

    def __init__(self, root: Path, bucket: str = "portail-faults") -> None:
        super().__init__()
        self.root = root
        self.bucket = bucket
        self.inner_port = free_port()
        self.outer_port = free_port()
        self.log = root / "moto.log"
        self.proxy_log = root / "s3-proxy.log"
        moto = [sys.executable, "-c", "from moto.server import main; main()",
                "-H", "127.0.0.1", "-p", str(self.inner_port)]  # fmt: skip
        proxy = [sys.executable, "-m", "tests.faults.proxy",
                 "--listen", str(self.outer_port), "--target", str(self.inner_port)]  # fmt: skip
        self._moto = _Child("moto", moto, self.log, env=_python_env(), cwd=root)
        self._proxy = _Child("s3-proxy", proxy, self.proxy_log, env=_python_env(), cwd=REPO_ROOT)
        self._hung = False

    @property
    def url(self) -> str:
        """``s3://testing:testing@127.0.0.1:<outer port>/<bucket>`` (through the proxy)."""
        return f"s3://{S3_ACCESS_KEY}:{S3_SECRET_KEY}@127.0.0.1:{self.outer_port}/{self.bucket}"

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:<outer port>``: the proxy, as the portal sees S3."""
        return f"127.0.0.1:{self.outer_port}"

    @property
    def inner_endpoint(self) -> str:
        """``127.0.0.1:<inner port>``: moto itself."""
        return f"127.0.0.1:{self.inner_port}"

    @property
    def proxy_pid(self) -> int | None:
        return self._proxy.pid

    def start(self, timeout: float = 60) -> None:
        """Start moto and the proxy (whichever is not running), wait for both ports."""
        if not self._moto.alive:
            self._moto.start()
        if not self._proxy.alive:
            self._start_proxy(timeout)
        _wait_child(self._moto, lambda: port_open(self.inner_port), timeout, "moto listens")

    def _start_proxy(self, timeout: float) -> None:
        self._proxy.start()
        self._hung = False
        _wait_child(self._proxy, lambda: port_open(self.outer_port), timeout, "proxy listens")

    def refuse(self, timeout: float = 10) -> None:
        """SIGKILL the proxy; returns when the outer port refuses connections."""
        self._proxy.kill()
        self._hung = False
        _wait_port_closed(self.outer_port, timeout, f"S3 proxy still open on {self.outer_port}")

    def restore(self, timeout: float = 15) -> None:
        """Undo ``refuse()`` (start the proxy again on the same outer port) or ``hang()``."""
        if self._proxy.alive:
            self.resume()
        else:
            self._start_proxy(timeout)

    def hang(self) -> None:
        """SIGSTOP the proxy: connections are accepted, requests never answered."""
        self._proxy.check_alive("before hang()")
        self._proxy.send(signal.SIGSTOP)
        self._hung = True

    def resume(self) -> None:
        """SIGCONT the proxy: pending and new requests are served again."""
        self._proxy.send(signal.SIGCONT)
        self._hung = False

    def client(self, *, through_proxy: bool = False) -> Minio:
        """A minio client on moto directly (default) or through the proxy."""
        endpoint = self.endpoint if through_proxy else self.inner_endpoint
        return Minio(
            endpoint, access_key=S3_ACCESS_KEY, secret_key=S3_SECRET_KEY, secure=False,
            region=S3_REGION,
        )  # fmt: skip

    def make_bucket(self) -> None:
        """Create the bucket on moto (nothing when it exists)."""
        client = self.client()
        if not client.bucket_exists(self.bucket):
            client.make_bucket(self.bucket)

    def keys(self) -> set[str]:
        """Every object key in the bucket (empty when the bucket does not exist), from moto."""
        try:
            return {
                str(obj.object_name)
                for obj in self.client().list_objects(self.bucket, recursive=True)
            }
        except S3Error as exc:
            if exc.code == "NoSuchBucket":
                return set()
            raise

    def close(self) -> None:
        try:
            self._proxy.kill()  # SIGKILL works on a stopped process too
        finally:
            self._moto.stop(signal.SIGTERM, 5)


# --------------------------------------------------------------------------------------- SMTP


class SmtpSink(_Closeable):
    """``tests/faults/sink.py`` on a free port, fixed for its life: every accepted message is a
    ``.eml`` file under ``<root>/smtp``. ``stop()`` SIGKILLs it (the SMTP server "is down"),
    ``start()`` brings it back on the same port."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.root = root
        self.port = free_port()
        self.folder = root / "smtp"
        self.log = root / "smtp-sink.log"
        argv = [sys.executable, "-m", "tests.faults.sink",
                "--port", str(self.port), "--folder", str(self.folder)]  # fmt: skip
        self._child = _Child("smtp-sink", argv, self.log, env=_python_env(), cwd=REPO_ROOT)

    @property
    def url(self) -> str:
        """``smtp://127.0.0.1:<port>``."""
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._child.pid

    def start(self, timeout: float = 20) -> None:
        """Start (again, same port) and wait for the 220 greeting."""
        if self._child.alive:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        self._child.start()
        _wait_child(self._child, self.is_up, timeout, "the sink greets with 220")

    def is_up(self) -> bool:
        """True when a connection gets the 220 greeting."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
                ok = sock.recv(512).startswith(b"220")
                with contextlib.suppress(OSError):
                    sock.sendall(b"QUIT\r\n")
                    sock.recv(512)
                return ok
        except OSError:
            return False

    def stop(self) -> None:
        """SIGKILL; returns when the port refuses connections."""
        self._child.kill()
        _wait_port_closed(self.port, 10, f"smtp sink still listening on {self.port}")

    def terminate(self, timeout: float = 10) -> None:
        """SIGTERM (clean shutdown of the sink)."""
        self._child.stop(signal.SIGTERM, timeout)

    def files(self) -> list[Path]:
        """The stored ``.eml`` files, oldest first."""
        if not self.folder.is_dir():
            return []
        return sorted(self.folder.glob("*.eml"), key=lambda path: int(path.name.split("-")[0]))

    def messages(self) -> list[EmailMessage]:
        """Every accepted message, oldest first, parsed with ``email.policy.default``."""
        parser = BytesParser(_class=EmailMessage, policy=policy.default)
        messages: list[EmailMessage] = []
        for path in self.files():
            with open(path, "rb") as handle:
                message = parser.parse(handle)
            assert isinstance(message, EmailMessage)
            messages.append(message)
        return messages

    def close(self) -> None:
        self._child.kill()


# -------------------------------------------------------------------------------------- Spool


class Spool(_Closeable):
    """A tmpfs of ``size_mb`` MiB mounted at ``<root>/spool`` as soon as it is built: a folder
    the portal writes to, which ``fill()`` makes full (ENOSPC) and ``read_only()`` read-only
    (EROFS). ``close()`` unmounts it (lazily when busy)."""

    FILLER = ".filler"

    def __init__(self, root: Path, size_mb: int = 8) -> None:
        super().__init__()
        self.root = root
        self.size_mb = size_mb
        self._path = root / "spool"
        self._mounted = False
        self.mount()

    @property
    def path(self) -> Path:
        """The mount point."""
        return self._path

    @property
    def filler(self) -> Path:
        return self._path / self.FILLER

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv), stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
        )

    def _mount_cmd(self, *argv: str) -> None:
        done = self._run(*argv)
        if done.returncode != 0:
            raise HarnessError(f"{shlex.join(argv)} failed ({done.returncode}): {done.stderr}")

    def is_mounted(self) -> bool:
        return os.path.ismount(self._path)

    def mount(self) -> None:
        """Mount the tmpfs (done by the constructor; again after ``close()``)."""
        if self._mounted:
            return
        self._path.mkdir(parents=True, exist_ok=True)
        if os.path.ismount(self._path):
            raise HarnessError(f"something is already mounted on {self._path}")
        self._mount_cmd(
            "mount", "-t", "tmpfs", "-o", f"size={self.size_mb}m,mode=0777", "tmpfs",
            str(self._path),
        )  # fmt: skip
        self._mounted = True
        _LIVE.add(self)

    def fill(self) -> int:
        """Write a filler file until ENOSPC: the filesystem is then full. Returns its size."""
        chunk = b"\0" * (1 << 20)
        written = 0
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            while True:
                try:
                    count = os.write(fd, chunk)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
                if count == 0:
                    break
                written += count
        finally:
            os.close(fd)
        return written

    def drain(self) -> None:
        """Remove the filler: the space is free again."""
        with contextlib.suppress(FileNotFoundError):
            self.filler.unlink()

    def read_only(self) -> None:
        """Remount read-only (fails, EBUSY, while a file is open for writing)."""
        self._mount_cmd("mount", "-o", "remount,ro", str(self._path))

    def read_write(self) -> None:
        """Remount read-write."""
        self._mount_cmd("mount", "-o", "remount,rw", str(self._path))

    def close(self) -> None:
        """Unmount (``umount -l`` when busy); the empty mount point stays."""
        if not self._mounted:
            return
        if os.path.ismount(self._path):
            if self._run("umount", str(self._path)).returncode != 0:
                self._mount_cmd("umount", "-l", str(self._path))
        self._mounted = False


# ----------------------------------------------------------------------------------- Process


class Process(_Closeable):
    """One long-running portal process (web server, worker…) from the caller's argv and full
    environment, in its own process group, output in ``<root>/<name>.log``; to crash it
    (``kill()``), stop it cleanly (``terminate()``) and start it again."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str],
        root: Path,
        *,
        cwd: Path | None = None,
    ) -> None:
        super().__init__()
        self.name = name
        self.root = root
        self._log = root / f"{name}.log"
        self._child = _Child(name, argv, self._log, env=env, cwd=cwd or REPO_ROOT)

    @property
    def log(self) -> Path:
        return self._log

    @property
    def alive(self) -> bool:
        return self._child.alive

    @property
    def pid(self) -> int | None:
        return self._child.pid

    @property
    def returncode(self) -> int | None:
        return self._child.returncode

    def log_text(self) -> str:
        """The whole log so far (every start appends to it)."""
        try:
            return self._log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        return tail(self._log, lines)

    def start(self) -> None:
        """Start the process (again); it must not be running."""
        self._child.start()

    def kill(self) -> None:
        """SIGKILL the process group (a crash) and reap it."""
        self._child.kill()

    def terminate(self, timeout: float = 15) -> int | None:
        """SIGTERM to the process, wait up to ``timeout`` s, then SIGKILL (the group is killed
        either way). Returns the exit status (negative: killed by that signal)."""
        return self._child.stop(signal.SIGTERM, timeout)

    def wait_http(self, url: str, timeout: float = 30) -> httpx.Response:
        """Poll ``url`` until any HTTP answer comes back (whatever the status); HarnessError
        with the log tail when the process dies or after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=2, follow_redirects=False) as client:
            while True:
                self._child.check_alive(f"before answering {url}")
                try:
                    return client.get(url)
                except httpx.TransportError:
                    pass
                if time.monotonic() >= deadline:
                    raise HarnessError(
                        f"{self.name} did not answer {url} within {timeout:g} s; "
                        f"log {self._log}:\n{tail(self._log)}"
                    )
                time.sleep(0.1)

    def close(self) -> None:
        self._child.kill()


# -------------------------------------------------------------------------------------- Stack


class Stack:
    """Owns components and closes them in reverse order of ``add()``, whatever happened:
    ``with Stack(tmp_path) as stack: pg = stack.add(Postgres(stack.root)); pg.start()``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self._components: list[Component] = []

    def add(self, component: C) -> C:
        self._components.append(component)
        return component

    def report(self, lines: int = 40) -> str:
        """The tail of every log under the root folder, for a failing test's output."""
        parts = [
            f"----- {path.relative_to(self.root)}\n{tail(path, lines)}"
            for path in sorted(self.root.rglob("*.log"))
        ]
        return "\n".join(parts)

    def close(self) -> None:
        """Close every component, last added first; the first error is raised at the end."""
        errors: list[BaseException] = []
        while self._components:
            component = self._components.pop()
            try:
                component.close()
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        try:
            self.close()
        except Exception:
            if exc is None:
                raise


__all__ = [
    "S3",
    "Component",
    "HarnessError",
    "Postgres",
    "Process",
    "Redis",
    "SmtpSink",
    "Spool",
    "Stack",
    "free_port",
    "port_open",
    "tail",
    "wait_until",
]
