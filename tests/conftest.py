"""Test configuration: a fresh database per test, on SQLite by default or on PostgreSQL when
`PORTAL_TEST_DATABASE_URL` is set, and fixtures that always create a second consortium.

Under `CI=true` a skipped test fails the run: every integration test must really run.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import socket
import tempfile
from pathlib import Path

# Settings are read once: everything is set before the portal is imported. The SQLite file and
# the data folder live in memory where the machine has /dev/shm: no test measures a disk's fsync.
_TMP = Path(
    tempfile.mkdtemp(prefix="portal-tests-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None)
)
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)


# pytest-xdist runs the suite in several processes: each gets its own database, Redis indexes
# and data folder (the temporary folder above is already per process).
WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def redis_test_url(purpose: int) -> str:
    """A Redis index of this worker's own (0: jobs, 1: throttle): 15 and 14 for the first on
    SQLite, 7 and 6 on PostgreSQL, so that both engines' runs may go side by side (at most 4
    workers each: `make test` caps them)."""
    engine = 8 if os.environ.get("PORTAL_TEST_DATABASE_URL") else 0
    return f"redis://127.0.0.1:6379/{15 - engine - 2 * WORKER - purpose}"


def _worker_database(url: str) -> str:
    if not url or WORKER == 0:
        return url
    base, _, query = url.partition("?")
    return f"{base}_w{WORKER}" + (f"?{query}" if query else "")


def listening_socket() -> socket.socket:
    """Bound to a port the kernel chose, and already listening: the test keeps it, and hands
    it to the server (in-process, or inherited through `pass_fds`). Closing a probe socket and
    giving its number to a server left the port free in between, for another test's server or
    an outgoing connection to take."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def reserved_socket() -> socket.socket:
    """For a server the test stops and starts again on the same port: bound with SO_REUSEPORT,
    never listening. Connections are refused while the server is down, and no other process or
    outgoing connection can take the port; the server binds beside it with `reuse_port=True`."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


# The OpenID provider's address is in the settings, read once: its socket is this process's.
OIDC_SOCKET = listening_socket()
OIDC_PORT = port_of(OIDC_SOCKET)
os.environ.update(
    PORTAL_ENV="development",
    PORTAL_DATA_DIR=str(_TMP / "data"),
    PORTAL_DATABASE_URL=_worker_database(os.environ.get("PORTAL_TEST_DATABASE_URL", ""))
    or f"sqlite:///{_TMP / 'portal-test.sqlite3'}",
    PORTAL_SECRET_KEY="test-secret-key-that-is-long-enough-0123456789",
    PORTAL_BASE_URL="http://testserver",
    PORTAL_MAIL_FROM="Portail de test <portail@test.local>",
    # No test may depend on the hour it runs at: the quiet hours are set by the tests of them.
    PORTAL_QUIET_HOURS="off",
    # argon2 at its lowest cost (production keeps RFC 9106's): logins are most of the suite.
    PORTAL_PASSWORD_HASHING="fast",
    PORTAL_OIDC_PROVIDERS=(
        '[{"name": "test", "label": "Fournisseur de test", '
        f'"issuer": "http://127.0.0.1:{OIDC_PORT}", '
        '"client_id": "portal-test", "client_secret": "portal-test-secret-0123456789"}]'
    ),
)
os.environ.pop("PORTAL_SMTP_URL", None)

import dataclasses  # noqa: E402
import datetime as dt  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import AsyncIterator, Iterator  # noqa: E402
from typing import Any  # noqa: E402

import httpx  # noqa: E402
import pytest  # noqa: E402

import portal  # noqa: E402, F401
from portal.core.tenancy import TenantScope  # noqa: E402
from portal.settings import get_settings  # noqa: E402

# Row-level security (PostgreSQL) ------------------------------------------------------------
# The suite connects as a plain role, as the portal does in production: a superuser bypasses
# row-level security. The role of PORTAL_TEST_DATABASE_URL (a superuser) creates the database
# and runs the migrations, as the tables' owner. Test code itself (fixtures, direct service
# calls) acts as the platform; the requests, jobs and scans it starts set their own scope.
APP_ROLE, APP_PASSWORD = "portal_app", "portal-app-test"
OWNER_URL = _worker_database(os.environ.get("PORTAL_TEST_DATABASE_URL", ""))
if OWNER_URL:
    from urllib.parse import urlsplit, urlunsplit

    _owner = urlsplit(OWNER_URL)
    os.environ["PORTAL_MIGRATION_DATABASE_URL"] = OWNER_URL
    os.environ["PORTAL_DATABASE_URL"] = urlunsplit(
        _owner._replace(netloc=f"{APP_ROLE}:{APP_PASSWORD}@{_owner.netloc.rsplit('@', 1)[-1]}")
    )


async def _grant_app_role(owner_url: str) -> None:
    """The portal's role: LOGIN, no SUPERUSER, no BYPASSRLS; DML on the tables the owner
    creates (as `infra/postgres/app-role.sh` grants in production)."""
    import asyncpg

    owner = await asyncpg.connect(owner_url)
    try:
        try:
            await owner.execute(f"CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_PASSWORD}'")
        except (asyncpg.DuplicateObjectError, asyncpg.UniqueViolationError):
            pass  # made by an earlier run (roles belong to the whole server)
        await owner.execute(
            "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE "
            f"ON TABLES TO {APP_ROLE}; "
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO "
            f"{APP_ROLE}"
        )
    finally:
        await owner.close()


@pytest.fixture(autouse=True)
def test_code_is_the_platform() -> Iterator[None]:
    from portal.core import scope

    token = scope._current.set(scope.Scope(platform=True))
    yield
    scope._current.reset(token)


# --------------------------------------------------------------------------------------------

DATABASE_URL = os.environ["PORTAL_DATABASE_URL"]
ON_POSTGRES = DATABASE_URL.startswith("postgres")
PASSWORD = "correct horse battery staple"


# Database -----------------------------------------------------------------------------------


async def _recreate_postgres_database(url: str) -> None:
    import asyncpg

    name = url.rsplit("/", 1)[1].split("?")[0]
    admin = await asyncpg.connect(url.rsplit("/", 1)[0] + "/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        # This database only: a commit need not wait for the disk (the server's others do).
        await admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    finally:
        await admin.close()


def _table_names() -> list[str]:
    """Children first, so deleting rows never trips a foreign key."""
    from piccolo.conf.apps import Finder
    from piccolo.table import sort_table_classes

    ordered = sort_table_classes(Finder().get_table_classes())
    return [t._meta.tablename for t in reversed(ordered)]


@pytest.fixture(scope="session", autouse=True)
async def database() -> AsyncIterator[None]:
    from portal.core import db

    if ON_POSTGRES:
        await _recreate_postgres_database(OWNER_URL)
        await _grant_app_role(OWNER_URL)
    await db.migrate()
    await db.start()
    yield
    await db.stop()


def _probe(tables: list[str]) -> str:
    """One query naming the tables that hold rows: most tests touch a few of the 47."""
    return " UNION ALL ".join(
        f"SELECT '{t}' AS name WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables
    )


@pytest.fixture(scope="session")
async def owner(database: None) -> AsyncIterator[Any]:
    """On PostgreSQL, one connection as the tables' owner (a superuser), for `fresh_rows`."""
    if not ON_POSTGRES:
        yield None
        return
    import asyncpg

    connection = await asyncpg.connect(OWNER_URL)
    yield connection
    await connection.close()


@pytest.fixture(autouse=True)
async def fresh_rows(owner: Any) -> AsyncIterator[None]:
    """Each test starts from empty tables (the schema stays). Only the tables a test filled
    are emptied, in one transaction."""
    yield
    from portal.core import db

    tables = _table_names()
    if ON_POSTGRES:
        # DELETE with the triggers off (`replica`: neither the append-only tables' refusal nor
        # the foreign keys' checks fire, so any order will do). TRUNCATE, which the triggers
        # let through, creates new files for each table: 0.4 s for a test that filled 12.
        async with owner.transaction():
            await owner.execute("SET LOCAL session_replication_role = replica")
            for row in await owner.fetch(_probe(tables)):
                await owner.execute(f'DELETE FROM "{row["name"]}"')
        return
    engine = db.engine()
    async with db.transaction():
        filled = {r["name"] for r in await engine.run_ddl(_probe(tables))}
        for table in (t for t in tables if t in filled):  # children first
            await engine.run_ddl(f'DELETE FROM "{table}"')


# Application and clients ----------------------------------------------------------------------


@pytest.fixture(scope="session")
def app():  # type: ignore[no-untyped-def]
    from portal.app import create_app

    return create_app()


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        yield c


@pytest.fixture
async def make_client(app):  # type: ignore[no-untyped-def]
    clients: list[httpx.AsyncClient] = []

    def make() -> httpx.AsyncClient:
        c = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        clients.append(c)
        return c

    yield make
    for c in clients:
        await c.aclose()


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


async def csrf_token(client: httpx.AsyncClient, path: str = "/login") -> str:
    response = await client.get(path)
    if response.status_code == 303:  # e.g. /login when already signed in
        response = await client.get(response.headers["location"])
    match = CSRF_RE.search(response.text)
    assert match, f"no CSRF token on {path} ({response.status_code})"
    return match.group(1)


async def post_form(
    client: httpx.AsyncClient, path: str, data: dict[str, object], from_page: str = "/login"
) -> httpx.Response:
    token = await csrf_token(client, from_page)
    return await client.post(path, data={**data, "csrf_token": token})


# E-mail → TOTP secret of the people a test enrolled (see `enrol_second_factor`).
TOTP_SECRETS: dict[str, str] = {}


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    """Signs in, typing the TOTP code too when the person has one."""
    response = await post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code == 303, response.text
    step = response.headers["location"]
    if step.startswith("/login/code") and email in TOTP_SECRETS:
        import pyotp

        from portal.auth import repository

        # A test may sign the same person in twice within 30 seconds: forget the last code
        # used, which the portal (rightly) refuses to take again.
        user = await repository.user_by_email(email)
        assert user is not None
        await repository.update_user(user["id"], totp_last_step=0)
        from portal.core import clock

        code = pyotp.TOTP(TOTP_SECRETS[email]).at(clock.now())  # the portal's time, maybe moved
        response = await post_form(client, step, {"code": code}, from_page=step)
        assert response.status_code == 303, response.text
    return response


async def enrol_second_factor(person: Person) -> str:
    """A confirmed TOTP for `person`, as after enrolment; returns the secret."""
    import pyotp

    from portal.auth import repository, second_factor
    from portal.core.clock import now

    secret = pyotp.random_base32()
    await repository.update_user(
        person.id,
        totp_secret=second_factor.encrypt_secret(secret),
        totp_confirmed_at=now(),
        totp_last_step=0,
    )
    TOTP_SECRETS[person.email] = secret
    return secret


# Data -----------------------------------------------------------------------------------------


@dataclasses.dataclass
class Person:
    id: uuid.UUID
    email: str
    membership_id: uuid.UUID | None = None


@dataclasses.dataclass
class Space:
    id: uuid.UUID
    slug: str
    lessor_id: uuid.UUID
    association_id: uuid.UUID
    pilot: Person
    association_worker: Person
    state_agent: Person | None = None
    read_only: Person | None = None

    @property
    def scope(self) -> TenantScope:
        """What a test acting directly in this consortium passes to services and repositories."""
        return _scope_of(self.id)


def _scope_of(consortium_id: uuid.UUID) -> TenantScope:
    return TenantScope.for_platform(consortium_id, reason="a test acts in its own consortium")


@dataclasses.dataclass
class World:
    tenant: Space
    other_tenant: Space
    admin: Person


_PASSWORD_HASH: list[str] = []


async def _person(email: str, name: str) -> Person:
    """A user with PASSWORD, hashed once per run."""
    from portal.auth import repository
    from portal.core.security import hash_password

    if not _PASSWORD_HASH:
        _PASSWORD_HASH.append(hash_password(PASSWORD))
    user_id = await repository.insert_user(email, name, _PASSWORD_HASH[0])
    return Person(id=user_id, email=email)


async def _member(
    scope, person: Person, org_id: uuid.UUID, role: str, may_sign: bool = False
) -> Person:  # type: ignore[no-untyped-def]
    from portal.tenants import repository

    person.membership_id = await repository.insert_membership(
        scope, person.id, org_id, role, may_sign
    )
    return person


async def make_space(slug: str, prefix: str, sirets: tuple[str, str]) -> Space:
    from portal.tenants import repository

    consortium_id = await repository.insert_consortium(
        f"Consortium {slug}", slug, "fnavdl", ["69", "38"], "active"
    )
    scope = _scope_of(consortium_id)
    lessor = await repository.insert_organisation(f"Bailleur {slug}", sirets[0], ["lessor"], "Lyon")
    association = await repository.insert_organisation(
        f"Association {slug}", sirets[1], ["association"], "Lyon"
    )
    await repository.insert_participation(scope, lessor)
    await repository.insert_participation(scope, association)
    pilot = await _member(
        scope,
        await _person(f"pilote@{prefix}.example.org", f"Pilote {slug}"),
        lessor,
        "pilot",
        True,
    )
    worker = await _member(
        scope,
        await _person(f"referente@{prefix}.example.org", f"Référente {slug}"),
        association,
        "association_staff",
    )
    return Space(consortium_id, slug, lessor, association, pilot, worker)


@pytest.fixture
async def world() -> World:
    from portal.core.db import transaction

    async with transaction():  # one commit, not one per row
        return await _world()


async def _world() -> World:
    from portal.auth import repository as auth_repository

    tenant = await make_space("alpha-habitat", "alpha", ("73282932000074", "44306184100047"))
    scope = tenant.scope
    state_org = tenant.lessor_id
    tenant.state_agent = await _member(
        scope, await _person("agent@ddets.example.org", "Agent DDETS"), state_org, "state_agent"
    )
    tenant.read_only = await _member(
        scope, await _person("lecture@alpha.example.org", "Lecture seule"), state_org, "read_only"
    )
    other = await make_space("beta-logement", "beta", ("55208131766522", "38012986643097"))
    admin = await _person("admin@plateforme.example.org", "Admin")
    await auth_repository.update_user(admin.id, is_platform_admin=True)
    # Administrators must have a second factor; `login` types its code.
    await enrol_second_factor(admin)
    return World(tenant=tenant, other_tenant=other, admin=admin)


def sent_mails() -> list[Path]:
    folder = get_settings().mail_dir
    return sorted(folder.glob("*.eml")) if folder.exists() else []


async def run_jobs() -> int:
    """Runs the due outbox jobs here, as the embedded default's web process does."""
    from portal.jobs import service
    from workers.handlers import HANDLERS

    return await service.run_due(HANDLERS)


async def delivered_mails() -> list[Path]:
    await run_jobs()
    return sent_mails()


@pytest.fixture(autouse=True)
def clean_mail_folder() -> None:
    for path in sent_mails():
        path.unlink()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "postgres_only: runs only on PostgreSQL (deselected on SQLite)"
    )
    config.addinivalue_line(
        "markers", "sqlite_only: runs only on SQLite (deselected on PostgreSQL)"
    )


# The files that take longest (from `--durations`), started first: pytest-xdist hands out files
# in this order (`make test` turns its own reordering, by test count, off), and the fault test
# alone takes 4 to 5 minutes; started last, it was the whole run's tail.
SLOW_FIRST = (
    "tests/faults/",
    "tests/test_fuzz_forms.py",
    "tests/test_cli.py",
    "tests/test_migrations.py",
    "tests/jobs/",
    "tests/browser/",
    "tests/signing/test_flow.py",
    "tests/signing/test_integrity.py",
    "tests/documents/test_faults.py",
    "tests/documents/test_uploads.py",
)


def _start_rank(item: pytest.Item) -> int:
    path = item.nodeid.split("::", 1)[0]
    return next((n for n, p in enumerate(SLOW_FIRST) if path.startswith(p)), len(SLOW_FIRST))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Engine-specific tests are deselected, not skipped, on the other engine; the slowest
    files come first (a stable sort: a file's tests keep their order)."""
    items.sort(key=_start_rank)
    other = "sqlite_only" if ON_POSTGRES else "postgres_only"
    kept = [i for i in items if i.get_closest_marker(other) is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """moto's standalone S3 server (MinIO cannot be installed here), for the whole run, on a
    socket this process keeps."""
    with listening_socket() as sock:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.s3_server", str(sock.fileno())],
            pass_fds=(sock.fileno(),),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        endpoint = f"127.0.0.1:{port_of(sock)}"
        deadline = time.monotonic() + 30
        with httpx.Client(timeout=2) as poller:
            while time.monotonic() < deadline and process.poll() is None:
                try:  # the socket accepts at once (it listens already): wait for an answer
                    poller.get(f"http://{endpoint}/")
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                process.kill()
                raise RuntimeError("moto server did not start")
        yield endpoint
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def smtp():  # type: ignore[no-untyped-def]
    """A real SMTP server (aiosmtpd) the portal sends to for the test's duration."""
    from tests.services import setting, smtp_server

    with smtp_server() as server, setting("smtp_url", server.url):
        yield server


@pytest.fixture
def quiet_hours() -> Iterator[None]:
    """The production default, 20:00 to 08:00 Paris time (the suite runs with none)."""
    from tests.services import setting

    with setting("quiet_hours", (20 * 60, 8 * 60)):
        yield


class Clock:
    """A controlled clock: every module reads the time through `portal.core.clock`."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Starts on a Monday, 10:00 in Paris (working hours)."""
    from zoneinfo import ZoneInfo

    from portal.core import clock as portal_clock

    controlled = Clock(dt.datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Europe/Paris")))
    monkeypatch.setattr(portal_clock, "now", controlled.now)
    return controlled


# CI: nothing may skip ---------------------------------------------------------------------------


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if os.environ.get("CI") != "true":
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if skipped:
        print(f"\nCI=true : {skipped} test(s) ignoré(s) — sous CI, aucun test ne peut être ignoré.")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
