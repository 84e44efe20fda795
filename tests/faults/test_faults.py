"""The production layout under faults: two `portal serve`, two `portal worker`, their own
PostgreSQL cluster, Redis, moto's S3 server behind a proxy, an SMTP sink and a small spool disk.
Each dependency is broken in turn under a bounded mixed load, then restored; after each fault:

- no job lost: every job of the outbox ends done, none failed or stuck;
- e-mails: every intended message arrived exactly once (by its stable Message-ID), except the
  cases the README documents (at most once: a notification whose hand-over was uncertain; at
  least once: an access e-mail sent again after an unconfirmed attempt), which are counted;
- files: no committed row without its object, and after the sweep no object without its row;
- `/healthz` named the broken dependency while it was down;
- recovery without a manual step (only what a process manager does: restart what was killed),
  within the bound given per fault.

The figures of each fault go to `test-artifacts/faults.md`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.faults import harness
from tests.faults.load import Load, Target, unique_pdf

pytestmark = pytest.mark.postgres_only  # its own PostgreSQL cluster: run once, in that pass

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SECRET = "faults-secret-key-that-is-long-enough-0123456789"
LEASE = 30  # seconds; longer than the 20 s database outage, so no live job is taken over
GRACE = 5  # seconds before the sweep removes an unconfirmed or unknown object
# The sweep the test runs after each fault, once the load has stopped and every job is done:
# nothing is on its way to storage any more, so a second of grace is enough there (the web and
# worker processes keep GRACE meanwhile).
SWEEP_GRACE = 1


@dataclass
class Outcome:
    fault: str
    requests: Counter[str]
    jobs_lost: int
    jobs_rerun: int
    mails_lost: int
    mails_duplicated: int
    mails_resent: int  # documented: access e-mails sent again after an unconfirmed hand-over
    mails_skipped: int  # documented: notifications not sent again after an uncertain one
    rows_without_objects: int
    objects_without_rows: int
    health: str
    recovery_seconds: float
    bound_seconds: float


@dataclass
class Portal:
    """The stack and the portal's processes, with what the assertions need."""

    stack: harness.Stack
    root: Path
    pg: harness.Postgres
    redis: harness.Redis
    s3: harness.S3
    smtp: harness.SmtpSink
    spool: harness.Spool
    env: dict[str, str]
    webs: list[harness.Process]
    workers: list[harness.Process]
    urls: list[str]
    database: str
    outcomes: list[Outcome] = field(default_factory=list)

    def portal(self, *args: str, timeout: float = 120, **settings: str) -> str:
        import subprocess

        done = subprocess.run(
            [sys.executable, "-m", "portal.cli", *args],
            env={**self.env, **settings},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"portal {' '.join(args)}: {done.stdout}{done.stderr}"
        return done.stdout

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        connection = await asyncpg.connect(self.database)
        try:
            return list(await connection.fetch(query, *args))
        finally:
            await connection.close()

    async def health(self, web: int = 0) -> tuple[int, dict[str, Any]]:
        async with httpx.AsyncClient(timeout=8) as client:
            try:
                answer = await client.get(f"{self.urls[web]}/healthz")
            except httpx.HTTPError as exc:
                return 0, {"error": type(exc).__name__}
        return answer.status_code, answer.json()


def _process(root: Path, name: str, argv: list[str], env: dict[str, str]) -> harness.Process:
    return harness.Process(name, [sys.executable, "-m", "portal.cli", *argv], env, root)


@pytest.fixture(scope="module")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    root = tmp_path_factory.mktemp("faults")
    with harness.Stack(root) as stack:
        pg = stack.add(harness.Postgres(root))
        pg.initdb()
        pg.start()
        pg.create_database("portal")
        redis = stack.add(harness.Redis(root))
        redis.start()
        s3 = stack.add(harness.S3(root))  # the bucket does not exist: `portal demo` makes it
        s3.start()
        smtp = stack.add(harness.SmtpSink(root))
        smtp.start()
        spool = stack.add(harness.Spool(root, size_mb=24))
        env = {
            k: v for k, v in os.environ.items() if not k.startswith("PORTAL_") and k not in {"CI"}
        }
        env.update(
            PORTAL_ENV="development",
            PORTAL_DATA_DIR=str(root / "data"),
            PORTAL_DATABASE_URL=pg.url("portal"),
            PORTAL_SECRET_KEY=SECRET,
            PORTAL_BASE_URL="http://portail.faults.example.org",
            PORTAL_REDIS_URL=redis.url,
            PORTAL_STORAGE_URL=s3.url,
            PORTAL_SMTP_URL=smtp.url,
            PORTAL_SPOOL_DIR=str(spool.path),
            PORTAL_UPLOAD_MAX_MB="8",
            PORTAL_QUIET_HOURS="off",  # notification e-mails leave at any hour of the CI run
            PORTAL_JOB_LEASE=str(LEASE),
            PORTAL_OUTAGE_RETRY="3",
            PORTAL_ORPHAN_GRACE=str(GRACE),
            PORTAL_STORAGE_CONNECT_TIMEOUT="1",
            PORTAL_STORAGE_READ_TIMEOUT="3",
            PORTAL_WORKER_STALE="8",
            PYTHONPATH=str(harness.REPO_ROOT),
        )
        ports = [harness.free_port(), harness.free_port()]
        webs = [
            stack.add(_process(root, f"web{i}", ["serve", "--port", str(p)], env))
            for i, p in enumerate(ports)
        ]
        workers = [stack.add(_process(root, f"worker{i}", ["worker"], env)) for i in range(2)]
        state = Portal(
            stack=stack,
            root=root,
            pg=pg,
            redis=redis,
            s3=s3,
            smtp=smtp,
            spool=spool,
            env=env,
            webs=webs,
            workers=workers,
            urls=[f"http://127.0.0.1:{p}" for p in ports],
            database=pg.url("portal"),
        )
        # The demo first, alone: with S3 configured and no bucket, it makes the bucket.
        state.portal("demo")
        assert s3.keys(), "portal demo stored no object"
        for process in (*webs, *workers):  # started together: migrations take turns
            process.start()
        for process, url in zip(webs, state.urls, strict=True):
            process.wait_http(f"{url}/healthz", timeout=60)
        try:
            yield state
        finally:
            _write_report(state.outcomes)
            if any(not p.alive for p in (*webs, *workers)):
                print(stack.report())


async def _target(portal: Portal) -> Target:
    [consortium] = await portal.sql(
        "SELECT id, slug FROM tenants_consortium WHERE slug = 'centre-est-accompagne'"
    )
    people = {
        r["role"]: r["email"]
        for r in await portal.sql(
            "SELECT u.email, m.role FROM tenants_membership m JOIN auth_user u ON u.id = m.user "
            "WHERE m.consortium = $1",
            consortium["id"],
        )
    }
    [worker_org] = await portal.sql(
        "SELECT m.organisation FROM tenants_membership m JOIN auth_user u ON u.id = m.user "
        "WHERE u.email = $1",
        people["association_staff"],
    )
    items = await portal.sql(
        "SELECT id FROM documents_item WHERE consortium = $1 AND organisation = $2",
        consortium["id"],
        worker_org["organisation"],
    )
    [convention] = await portal.sql(
        "SELECT c.id, (SELECT a.id FROM conventions_article a WHERE a.convention = c.id "
        "ORDER BY a.position LIMIT 1) AS article FROM conventions_convention c "
        "WHERE c.consortium = $1 AND c.status IN ('draft', 'review') LIMIT 1",
        consortium["id"],
    )
    return Target(
        slug=consortium["slug"],
        password="demo-portail-2026",
        pilot=people["pilot"],
        association_worker=people["association_staff"],
        finance=people["finance"],
        resettable=(people["lessor_staff"], people["state_agent"]),
        organisation_id=str(worker_org["organisation"]),
        items=tuple(str(i["id"]) for i in items),
        convention_id=str(convention["id"]),
        article_id=str(convention["article"]),
        mention=people["association_staff"].split("@")[0],
    )


# What is checked after each fault ------------------------------------------------------------


async def _jobs(portal: Portal) -> dict[str, int]:
    rows = await portal.sql("SELECT status, count(*) AS n FROM jobs_outbox GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


async def _settled(portal: Portal) -> bool:
    """Every job done (none due, queued, running or failed), every intended e-mail arrived
    (but those documented as possibly lost)."""
    if set(await _jobs(portal)) - {"done"}:
        return False
    delivered, documented = _delivered(portal), await _uncertain(portal)
    return all(delivered[m] or m in documented for m in await _intended(portal))


async def _intended(portal: Portal) -> dict[str, str]:
    """Message-ID → key of every e-mail the portal had to send, from the rows asking for one."""
    from portal.core.mail import message_id

    wanted: list[tuple[str, str]] = []
    # A reset link superseded by a newer request is revoked, and not sent if it was not yet:
    # the load never uses a link, so the links still due are the unused ones.
    for r in await portal.sql(
        "SELECT t.id, u.email FROM auth_password_reset t JOIN auth_user u ON u.id = t.user "
        "WHERE t.used_at IS NULL"
    ):
        wanted.append((f"password-reset:{r['id']}", r["email"]))
    for r in await portal.sql("SELECT id, email FROM tenants_invitation"):
        wanted.append((f"invitation:{r['id']}", r["email"]))
    for r in await portal.sql(
        "SELECT n.id, u.email FROM notifications_notification n JOIN auth_user u "
        "ON u.id = n.user WHERE n.kind = 'convention_mention' AND n.email_status <> 'skipped'"
    ):
        wanted.append((f"notification:{r['id']}", r["email"]))
    base = portal.env["PORTAL_BASE_URL"]
    return {message_id(key, email, base): key for key, email in wanted}


def _delivered(portal: Portal) -> Counter[str]:
    return Counter(str(m["Message-ID"]).strip() for m in portal.smtp.messages())


async def _uncertain(portal: Portal) -> set[str]:
    rows = await portal.sql(
        "SELECT message_id FROM jobs_mail_delivery WHERE state = 'uncertain' OR attempts > 1"
    )
    return {r["message_id"] for r in rows}


async def _referenced_keys(portal: Portal) -> set[str]:
    queries = [
        "SELECT storage_key AS k FROM documents_version WHERE purged_at IS NULL",
        "SELECT storage_key AS k FROM conventions_annex",
        "SELECT pdf_key AS k FROM conventions_version WHERE pdf_key IS NOT NULL",
        "SELECT storage_key AS k FROM signing_revision",
        "SELECT certificate_key AS k FROM signing_request WHERE certificate_key IS NOT NULL",
        "SELECT storage_key AS k FROM payments_export WHERE storage_key IS NOT NULL",
        "SELECT evidence_key AS k FROM households_consent WHERE evidence_key <> ''",
    ]
    keys: set[str] = set()
    for query in queries:
        keys |= {r["k"] for r in await portal.sql(query)}
    return keys


@dataclass
class Fault:
    name: str
    broken: Callable[[int, dict[str, Any]], bool]  # (status, /healthz body) shows it
    inject: Callable[[], Awaitable[None]]
    restore: Callable[[], Awaitable[None]]
    hold: float  # seconds the fault lasts
    bound: float  # recovery must take less than this, after `restore`
    watch: int = 1  # the web process whose /healthz is watched


def _check(name: str, state: str = "error") -> Callable[[int, dict[str, Any]], bool]:
    def shows(status: int, body: dict[str, Any]) -> bool:
        found = body.get("checks", {}).get(name, {})
        return bool(found.get("state") in {state, "error"} and status in {200, 503})

    return shows


async def _run(portal: Portal, load: Load, fault: Fault) -> Outcome:
    before_jobs = sum((await _jobs(portal)).values())
    before_reruns = (await portal.sql("SELECT count(*) AS n FROM jobs_outbox WHERE attempts > 1"))[
        0
    ]["n"]
    stop = asyncio.Event()
    started = time.monotonic()
    running = asyncio.create_task(load.run(stop))
    await asyncio.sleep(1.5)  # each of the load's six kinds of operation has started
    watching = True
    seen = False

    async def watch() -> None:
        nonlocal seen
        while watching:
            status, body = await portal.health(fault.watch)
            seen = seen or fault.broken(status, body)
            await asyncio.sleep(0.2)

    watcher = asyncio.create_task(watch())
    await fault.inject()
    await asyncio.sleep(fault.hold)
    watching = False
    await watcher
    await fault.restore()
    restored = time.monotonic()
    await asyncio.sleep(0.5)  # two operations meet the restored stack
    stop.set()
    await running
    # Recovery: every job done, every intended e-mail in the sink, /healthz ok on both webs.
    deadline = restored + fault.bound
    healthy = False
    while time.monotonic() < deadline:
        statuses = [await portal.health(i) for i in range(len(portal.urls))]
        healthy = all(s == 200 and b.get("status") == "ok" for s, b in statuses)
        if healthy and await _settled(portal):
            break
        await asyncio.sleep(0.5)
    recovery = time.monotonic() - restored
    jobs = await _jobs(portal)
    # The sweep, once unconfirmed objects are older than the grace.
    await asyncio.sleep(SWEEP_GRACE + 1)
    await asyncio.to_thread(
        lambda: portal.portal("housekeeping", PORTAL_ORPHAN_GRACE=str(SWEEP_GRACE))
    )
    referenced, stored = await _referenced_keys(portal), portal.s3.keys()
    intended = await _intended(portal)
    delivered = _delivered(portal)
    documented = await _uncertain(portal)
    lost = [m for m in intended if delivered[m] == 0 and m not in documented]
    duplicated = [m for m, n in delivered.items() if n > 1 and m not in documented]
    resent = [m for m, n in delivered.items() if n > 1 and m in documented]
    skipped = [m for m in intended if delivered[m] == 0 and m in documented]
    outcome = Outcome(
        fault=fault.name,
        requests=load.outcomes(started, time.monotonic()),
        jobs_lost=sum(n for s, n in jobs.items() if s != "done"),
        jobs_rerun=(await portal.sql("SELECT count(*) AS n FROM jobs_outbox WHERE attempts > 1"))[
            0
        ]["n"]
        - before_reruns,
        mails_lost=len(lost),
        mails_duplicated=len(duplicated),
        mails_resent=len(resent) - sum(o.mails_resent for o in portal.outcomes),
        mails_skipped=len(skipped) - sum(o.mails_skipped for o in portal.outcomes),
        rows_without_objects=len(referenced - stored),
        objects_without_rows=len(stored - referenced),
        health="named" if seen else "NOT named",
        recovery_seconds=recovery,
        bound_seconds=fault.bound,
    )
    portal.outcomes.append(outcome)
    lost_keys = [intended[m] for m in lost[:3]]
    deliveries = await portal.sql(
        "SELECT key, state, message_id, attempts FROM jobs_mail_delivery WHERE key = ANY($1)",
        lost_keys,
    )
    detail = (
        f"{fault.name}: {outcome} jobs={jobs} before={before_jobs} lost={lost_keys} "
        f"deliveries={[dict(d) for d in deliveries]} sink={list(delivered)[:3]} "
        f"dup={duplicated[:3]} missing={sorted(referenced - stored)[:3]} "
        f"extra={sorted(stored - referenced)[:3]}\n{portal.stack.report(15)}"
    )
    assert outcome.jobs_lost == 0, detail
    assert outcome.mails_lost == 0 and outcome.mails_duplicated == 0, detail
    assert outcome.rows_without_objects == 0 and outcome.objects_without_rows == 0, detail
    assert seen, detail
    assert healthy and recovery < fault.bound, detail
    return outcome


def _write_report(outcomes: list[Outcome]) -> None:
    if not outcomes:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    lines = [
        "| fault | requests by status | jobs lost / run again | e-mails lost / duplicated "
        "(documented: resent at least once / not resent at most once) | "
        "rows without object / objects without row | /healthz | recovery (bound) |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in outcomes:
        statuses = ", ".join(f"{k}: {v}" for k, v in sorted(o.requests.items()))
        lines.append(
            f"| {o.fault} | {statuses} | {o.jobs_lost} / {o.jobs_rerun} | "
            f"{o.mails_lost} / {o.mails_duplicated} ({o.mails_resent} / {o.mails_skipped}) | "
            f"{o.rows_without_objects} / "
            f"{o.objects_without_rows} | {o.health} | {o.recovery_seconds:.1f} s "
            f"(< {o.bound_seconds:.0f} s) |"
        )
    (ARTIFACTS / "faults.md").write_text("\n".join(lines) + "\n")


@contextlib.asynccontextmanager
async def _loaded(portal: Portal) -> AsyncIterator[Load]:
    load = Load(portal.urls, await _target(portal))
    await load.open()
    try:
        yield load
    finally:
        await load.close()


def _thread(function: Callable[[], object]) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        await asyncio.to_thread(function)

    return run


# The faults ----------------------------------------------------------------------------------


class TestFaults:
    async def test_each_dependency_broken_in_turn_loses_nothing_and_sends_nothing_twice(
        self, portal: Portal
    ) -> None:
        async with _loaded(portal) as load:
            for fault in _faults(portal, load):
                await _run(portal, load, fault)


def _faults(portal: Portal, load: Load) -> list[Fault]:
    async def redis_back() -> None:
        await asyncio.to_thread(portal.redis.start)

    async def pg_start_after_a_moment() -> None:
        await asyncio.sleep(1)  # a restart as `pg_ctl restart` does it: down, then up again
        await asyncio.to_thread(portal.pg.start)

    slow = portal.smtp.folder / ".delay"

    async def kill_both_workers() -> None:
        slow.write_text("1.5")  # e-mails now take 1.5 s at the server: some are in flight
        await asyncio.sleep(2)
        portal.workers[0].kill()
        await asyncio.sleep(3)  # the other one carries on alone meanwhile
        portal.workers[1].kill()

    async def restart_workers() -> None:
        slow.unlink()
        for worker in portal.workers:
            worker.start()

    killed: list[int] = []

    async def kill_web_during_upload() -> None:
        killed.append(await _kill_web_during_upload(portal, load))

    async def restart_web() -> None:
        web = portal.webs[0]
        web.start()
        await asyncio.to_thread(web.wait_http, f"{portal.urls[0]}/healthz", 60)
        # The killed upload's spool file was removed at start-up. (The load goes on meanwhile:
        # the live processes' own uploads may be on their way through the spool.)
        leftovers = [p for p in portal.spool.path.iterdir() if p.name.startswith(f"{killed[-1]}-")]
        assert leftovers == [], leftovers

    async def spool_full() -> None:
        await asyncio.to_thread(portal.spool.fill)

    def workers_dead(status: int, body: dict[str, Any]) -> bool:
        return bool(body.get("checks", {}).get("workers", {}).get("state") == "degraded")

    def database_down(status: int, body: dict[str, Any]) -> bool:
        return status == 503 and body.get("checks", {}).get("database", {}).get("state") == "error"

    def web_down(status: int, body: dict[str, Any]) -> bool:
        return status == 0  # nothing answers on the killed process's port

    # Each fault lasts long enough for /healthz to name it and for the load (4 operations a
    # second, with jobs and e-mails in flight) to meet it, and not more: the run is this test's
    # length. PostgreSQL's 20 s outage is the scenario itself (shorter than the lease).
    return [
        Fault(
            "Redis down and back",
            _check("redis"),
            _thread(portal.redis.kill),
            redis_back,
            hold=5,
            bound=45,
        ),
        Fault(
            "SMTP down and back",
            _check("mail"),
            _thread(portal.smtp.stop),
            _thread(portal.smtp.start),
            hold=6,
            bound=30,
        ),
        Fault(
            "S3 refusing",
            _check("storage"),
            _thread(portal.s3.refuse),
            _thread(portal.s3.restore),
            hold=5,
            bound=30,
        ),
        Fault(
            "S3 hung (SIGSTOP on its proxy)",
            _check("storage"),
            _thread(portal.s3.hang),
            _thread(portal.s3.resume),
            hold=6,
            bound=30,
        ),
        Fault(
            "workers SIGKILLed (one, then the other), restarted",
            workers_dead,
            kill_both_workers,
            restart_workers,
            hold=12,
            bound=LEASE + 20,
        ),
        Fault(
            "PostgreSQL restarted",
            database_down,
            _thread(portal.pg.stop),
            pg_start_after_a_moment,
            hold=1,
            bound=30,
        ),
        Fault(
            "PostgreSQL stopped for 20 s",
            database_down,
            _thread(portal.pg.stop),
            _thread(portal.pg.start),
            hold=20,
            bound=40,
        ),
        Fault(
            "web process SIGKILLed during an upload, restarted",
            web_down,
            kill_web_during_upload,
            restart_web,
            hold=3,
            bound=30,
            watch=0,
        ),
        Fault(
            "spool disk full",
            _check("spool", "degraded"),
            spool_full,
            _thread(portal.spool.drain),
            hold=5,
            bound=30,
        ),
    ]


async def _kill_web_during_upload(portal: Portal, load: Load) -> int:
    """Streams a 4 MB upload slowly to the first web process and kills it half-way; its pid."""
    target = load.target
    client = load._clients[target.association_worker]
    page = await client.get(f"{portal.urls[0]}/c/{target.slug}/pieces/{target.items[0]}")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    boundary = "faultsboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="gros.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    body = unique_pdf(0, pages=1) + b"%" * (4 * 1024 * 1024)

    async def slowly() -> AsyncIterator[bytes]:
        yield head
        for start in range(0, len(body), 256 * 1024):
            yield body[start : start + 256 * 1024]
            await asyncio.sleep(0.2)
        yield f"\r\n--{boundary}--\r\n".encode()

    async def send() -> None:
        with contextlib.suppress(httpx.HTTPError):
            await client.post(
                f"{portal.urls[0]}/c/{target.slug}/pieces/{target.items[0]}/versions",
                content=slowly(),
                headers={"content-type": f"multipart/form-data; boundary={boundary}"},
            )

    pid = portal.webs[0].pid or 0
    mine = f"{pid}-"
    upload = asyncio.create_task(send())
    await harness_wait(lambda: any(p.name.startswith(mine) for p in portal.spool.path.iterdir()))
    await asyncio.sleep(1)
    os.kill(pid, signal.SIGKILL)
    portal.webs[0].kill()
    await upload
    assert any(p.name.startswith(mine) for p in portal.spool.path.iterdir()), "no leftover"
    return pid


async def harness_wait(predicate: Callable[[], bool]) -> None:
    await asyncio.to_thread(harness.wait_until, predicate, 10, 0.05, "spool file appears")
