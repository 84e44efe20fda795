"""Households benchmark (not a test): the register's pages with 5,000 households in one
consortium among 1,000 others, at 50 signed-in users against `portal serve --workers 2` on
PostgreSQL, beside the bare page of `pages.py` (`bare_home.py`): the same harness, the same
ratio (req/s over the bare page's).

    .venv/bin/python infra/bench/households.py
    PORTAL_BENCH_QUICK=1 .venv/bin/python infra/bench/households.py     # smoke run, about a minute

    PORTAL_BENCH_HOUSEHOLDS  households of the big consortium (5000)
    PORTAL_BENCH_CONSORTIA   other consortia, copies of it (1000); the first has 10 households,
                             the others 0 to 3
    PORTAL_BENCH_USERS       concurrent signed-in users (50) of each kind: association workers
                             of the association following the households, and pilots
    PORTAL_BENCH_SECONDS     measured seconds per page and round (4), after 1 s of ramp-up
    PORTAL_BENCH_ROUNDS      rounds; each runs every page once (3)
    PORTAL_BENCH_DATABASE_URL  scratch database, dropped and created
                             (postgresql://postgres@127.0.0.1:5432/bench_households)
    PORTAL_BENCH_QUICK       1: 300 households, 20 consortia, 10 users, 1 round of 1 s
    PORTAL_BENCH_PLAN_CACHE_MODE  PostgreSQL's plan_cache_mode for the scratch database (its
                             default, auto; force_custom_plan shows what the generic plans of
                             the caseload's queries cost, see the results)

Pages (each user its own household on a file page):
    caseload      GET /c/{slug}/menages as an association worker: 50 households a page, each
                  name unsealed, one read-log row per name (one INSERT)
    register      GET /c/{slug}/menages/registre as the pilot: counts per step, occupancy and
                  convention, then 50 households under their pseudonym, with the name of those
                  the pilot's own organisation houses (a third of them)
    file          GET /c/{slug}/menages/{id} as the association worker following it: identity
                  and the pathway's reasons unsealed
    file name     the same page as the pilot, for a household its organisation houses: only
                  the name unsealed (identity query, unseal, read-log row)
    file no name  the same page as the pilot, for a household of the other bailleur: nothing
                  unsealed; the difference with `file name` is what reading an identity costs
Queries per request are counted in this process (`pages.count_statements`: the portal app over
httpx.ASGITransport), in the big consortium and in the one of 10 households; unseals are the
calls of `Sealer.open` per request; the time in SQL of a request (the awaits of asyncpg's calls)
is the median of 20 serial requests made after 10 others (past PostgreSQL's switch to a generic
plan, after 5 runs of a prepared statement). The unseal cost is also timed alone, over every
identity of the big consortium, against a no-op of the same signature, and so is the writing
of a page's read log.

Results (2026-12-04, this 2-core machine, Python 3.11.7, PostgreSQL 15 beside it; 5,000
households among 1,002 consortia, 6,507 households in all, 5,106 users; seeding 27.5 s; 50
users, 3 rounds x 4 s; the load generator shares the cores: 37 s of CPU, other processes 7 s).
After the caseload indexes `(consortium, association, pseudonym)` and `(consortium, lessor,
pseudonym)`, and one data-key read per file page (commit 1b69cbc):

    page          p50 ms  p95 ms  req/s  ratio  queries  10 hh  unseals    sql ms  app ms  db ms
    bare             205     369    224   1.00        5      5        0         -     2.0    2.5
    home             188     657    202   0.90       12     12        0   5.1/4.0     5.7    2.8
    caseload         633    2005     55   0.25       17     17    50/10  17.1/6.6    22.0   13.8
    register         969    2131     51   0.23       21     21     16/3  24.9/9.4    18.9   18.4
    file             286    1051    125   0.56       16     16      6/3   6.5/5.3    10.4    3.9
    file name        283     831    138   0.62       15     15        1   7.3/5.5     8.8    3.9
    file no name     227     811    163   0.73       12     12        0   4.2/4.3     7.0    3.2

    queries / 10 hh: SQL statements of one request with 5,000 / 10 households (no BEGIN/COMMIT);
    sql ms: its time in SQL, 5,000 / 10 households; app ms, db ms: CPU per request.

Before them (the same run's settings): caseload 30 req/s (0.13), p50 1,187 ms, p95 3,566 ms,
49.5 ms of SQL and 33.9 ms of PostgreSQL CPU per request; file 18 statements.

- Every page sends as many statements with 5,000 households as with 10. Its time in SQL still
  grows on the caseload (17.1 ms against 6.6) and the register (24.9 against 9.4): after 5
  runs of a prepared statement on a connection PostgreSQL keeps a generic plan, estimated for
  an average consortium (under 10 households). `repository.identities` (`household IN (50
  ids)`) then filters the consortium's 5,000 identities for 50 (5.9 ms); the register's GROUP
  BYs count every household at each view (2.6 + 1.7 ms). With
  PORTAL_BENCH_PLAN_CACHE_MODE=force_custom_plan (before the indexes) the caseload gave 66
  req/s, but every statement is then planned at each run and the file pages' PostgreSQL CPU
  doubles (2.4-3.0 ms to 5.8-6.9 ms).
- Unsealing an identity (`Sealer.open_json`) costs 6.3 µs (6.0 to 10.2 µs over six runs; a
  no-op 0.08 µs): 0.07 % of the CPU of a file page (8.8 ms) and 0.002 % of its p50 at 50
  users. Reading a name on the file page as a whole (the identity's query, the unseal, the
  read-log INSERT): +1.8 ms of web-worker CPU against the same page without a name. The
  caseload's 50 unseals: 0.32 ms, 1.4 % of its CPU; writing its read log (one INSERT of 50
  rows) takes 5.1 ms, 3.6 ms of them piccolo building the rows and their SQL.
"""

from __future__ import annotations

import asyncio
import collections
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pages as harness

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]
QUICK = os.environ.get("PORTAL_BENCH_QUICK", "") == "1"


def _setting(name: str, default: str, quick: str) -> str:
    return os.environ.get(f"PORTAL_BENCH_{name}", quick if QUICK else default)


HOUSEHOLDS = int(_setting("HOUSEHOLDS", "5000", "300"))
OTHERS = int(_setting("CONSORTIA", "1000", "20"))
USERS = int(_setting("USERS", "50", "10"))
SECONDS = float(_setting("SECONDS", "4", "1"))
ROUNDS = int(_setting("ROUNDS", "3", "1"))
DATABASE_URL = os.environ.get(
    "PORTAL_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_households"
)
PLAN_CACHE_MODE = os.environ.get("PORTAL_BENCH_PLAN_CACHE_MODE", "")

# page → (who requests it, path under /c/{slug}); the ids are each user's own (`targets`).
PAGES = {
    "bare": ("staff", "/"),  # on the bare server
    "home": ("staff", "/"),
    "caseload": ("staff", "/menages"),
    "register": ("pilot", "/menages/registre"),
    "file": ("staff", "/menages/{followed}"),
    "file name": ("pilot", "/menages/{housed}"),
    "file no name": ("pilot", "/menages/{elsewhere}"),
}


def path_of(page: str, target: dict[str, Any]) -> str:
    return f"/c/{target['slug']}" + PAGES[page][1].format(**target)


# Load generator (a process of its own) ------------------------------------------------------


async def drive(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """`pages.drive` with a set of signed-in users per kind: each step is requested by the
    users of its kind (`who`), every user its own path, for the step's seconds."""
    import httpx

    clients = {
        who: [httpx.AsyncClient(cookies={"portal_session": t}, timeout=30) for t in tokens]
        for who, tokens in spec["tokens"].items()
    }
    results = []
    for step in spec["steps"]:
        latencies: list[float] = []
        errors: collections.Counter[int] = collections.Counter()
        opens = time.perf_counter() + harness.RAMP
        window = (opens, opens + step["seconds"])
        app_before = harness.cpu_seconds(step["pids"])
        db_before = harness.database_cpu(spec["database"])
        await asyncio.gather(
            *(
                harness.user(c, step["base"] + p, window, latencies, errors)
                for c, p in zip(clients[step["who"]], step["paths"], strict=True)
            )
        )
        answers = errors.pop(0, 0) or 1
        db_after = harness.database_cpu(spec["database"])
        results.append(
            {
                "latencies": latencies,
                "elapsed": step["seconds"],
                "errors": dict(errors),
                "app_cpu": (harness.cpu_seconds(step["pids"]) - app_before) / answers,
                "db_cpu": sum(t - db_before.get(pid, 0.0) for pid, t in db_after.items()) / answers,
            }
        )
    for group in clients.values():
        for c in group:
            await c.aclose()
    return results


load_cpu: list[float] = []


def machine_busy() -> float:
    """CPU seconds every process of the machine used so far (user, nice, system, irq)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return sum(int(fields[i]) for i in (0, 1, 2, 5, 6)) / harness.TICKS


def run_load(spec: dict[str, Any]) -> list[dict[str, Any]]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    out = subprocess.run(
        [sys.executable, str(HERE), "--load", f.name], stdout=subprocess.PIPE, text=True, check=True
    )
    os.unlink(f.name)
    answer: dict[str, Any] = json.loads(out.stdout)
    load_cpu.append(answer["cpu"])
    return list(answer["steps"])


# Targets ------------------------------------------------------------------------------------


async def targets(conn: Any, space: Any, users: int) -> list[dict[str, Any]]:
    """`users` (workers, pilots) of `space`, each with three households of its own: one of the
    association's (for the worker), one the pilot's organisation houses, one it does not."""
    staff = await conn.fetch(
        'SELECT u.email FROM tenants_membership m JOIN auth_user u ON u.id = m."user"'
        " WHERE m.consortium = $1 AND m.role = $2 ORDER BY m.created_at, m.id LIMIT $3",
        space.consortium_id,
        "association_staff",
        users,
    )
    pilots = await conn.fetch(
        'SELECT u.email FROM tenants_membership m JOIN auth_user u ON u.id = m."user"'
        " WHERE m.consortium = $1 AND m.role = $2 ORDER BY m.created_at, m.id LIMIT $3",
        space.consortium_id,
        "pilot",
        users,
    )

    async def households(lessor: uuid.UUID) -> list[uuid.UUID]:
        rows = await conn.fetch(
            "SELECT id FROM households_household WHERE consortium = $1 AND lessor = $2"
            " ORDER BY pseudonym DESC LIMIT $3",
            space.consortium_id,
            lessor,
            users,
        )
        return [r["id"] for r in rows]

    housed, elsewhere = await households(space.pilot_org), await households(space.gla_org)
    found = []
    for n in range(users):
        found.append(
            {
                "slug": space.slug,
                "staff": staff[n % len(staff)]["email"],
                "pilot": pilots[n % len(pilots)]["email"],
                # half the workers open a household the pilot's organisation houses, half not
                "followed": elsewhere[n % len(elsewhere)] if n % 2 else housed[n % len(housed)],
                "housed": housed[n % len(housed)],
                "elsewhere": elsewhere[n % len(elsewhere)],
            }
        )
    return found


# Queries and unseals per request ------------------------------------------------------------

unseals = collections.Counter[str]()


def count_unseals() -> None:
    """Counts the values a request unseals (`Sealer.open`, which `open_json` calls)."""
    from portal.households import sealing

    original = sealing.Sealer.open

    def wrapped(self: Any, household_id: uuid.UUID, what: str, sealed: str) -> str:
        unseals[what] += 1
        return original(self, household_id, what, sealed)

    sealing.Sealer.open = wrapped  # type: ignore[method-assign]


WARM = 10  # requests before a measure: PostgreSQL plans a prepared statement anew for its
# first 5 runs on a connection, then may keep a generic plan (plan_cache_mode = auto), the
# plan every later request of that page gets; asyncpg prepares every statement.
TIMED = 20  # serial requests timed after the warm ones


async def per_request(small: list[dict[str, Any]], big: list[dict[str, Any]]) -> dict[str, Any]:
    """page → {"big"|"small": (SQL statements, transaction statements, unseals, ms of SQL
    per request)}: the counts of one warm request, the SQL time (the awaits of asyncpg's calls,
    round trips included) the median of TIMED serial warm ones; and under "statements", what
    one request of each page of the big consortium sends, with the time of each."""
    import households_seed
    import httpx

    from portal.app import create_app

    harness.count_statements()
    count_unseals()
    sent: list[tuple[str, float]] = []
    time_statements(sent)
    app = create_app()
    found: dict[str, Any] = {"statements": {}}
    for label, target in (("big", big[0]), ("small", small[0])):
        for who in ("staff", "pilot"):
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client:
                page = await client.get("/login")
                token = harness.CSRF_RE.search(page.text)
                assert token
                await client.post(
                    "/login",
                    data={
                        "email": target[who],
                        "password": households_seed.PASSWORD,
                        "csrf_token": token[1],
                    },
                )
                for name, (kind, _) in PAGES.items():
                    if kind != who or name == "bare":
                        continue
                    url = path_of(name, target)
                    for _ in range(WARM):  # caches, prepared statements, their plans
                        await client.get(url)
                    harness.statements.clear()
                    unseals.clear()
                    sent.clear()
                    response = await client.get(url)
                    assert response.status_code == 200, (url, response.status_code)
                    if label == "big":
                        found["statements"][name] = list(sent)
                    counted = (harness.statements["sql"], harness.statements["tx"])
                    opened = sum(unseals.values())
                    spent = []
                    for _ in range(TIMED):
                        sent.clear()
                        await client.get(url)
                        spent.append(sum(t for _, t in sent))
                    sql_ms = 1000 * statistics.median(spent)
                    found.setdefault(name, {})[label] = (*counted, opened, sql_ms)
    return found


def time_statements(sent: list[tuple[str, float]]) -> None:
    """Appends (text, seconds) of every statement to `sent` (over `count_statements`)."""
    import asyncpg.connection

    cls = asyncpg.connection.Connection
    for name in ("execute", "executemany", "fetch", "fetchrow", "fetchval"):
        original = getattr(cls, name)

        async def wrapped(
            self: Any, query: str, *args: Any, _original: Any = original, **kw: Any
        ) -> Any:
            start = time.perf_counter()
            try:
                return await _original(self, query, *args, **kw)
            finally:
                sent.append((" ".join(query.split()), time.perf_counter() - start))

        setattr(cls, name, wrapped)


def slowest(sent: list[tuple[str, float]], top: int = 3) -> list[tuple[int, float, str]]:
    """(times sent, ms in all, text) of one request's statements: the repeated ones and the
    `top` slowest."""
    by_text: dict[str, list[float]] = {}
    for text, seconds in sent:
        by_text.setdefault(text, []).append(seconds)
    rows = [(len(t), 1000 * sum(t), text) for text, t in by_text.items()]
    rows.sort(key=lambda r: -r[1])
    return [r for n, r in enumerate(rows) if n < top or r[0] > 1]


# The unseal cost alone ----------------------------------------------------------------------


async def unseal_cost(conn: Any, space: Any) -> dict[str, float]:
    """Microseconds per identity: `Sealer.open_json` over every identity of `space`, a no-op of
    the same signature over the same rows, and the parts of an unseal; best of 5 runs each.
    Also `sealing.sealer(scope)` (a data-key query each time, the key unwrapped once)."""
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from portal.households import sealing

    rows = [
        (r["household"], r["sealed"])
        for r in await conn.fetch(
            "SELECT household, sealed FROM households_identity WHERE consortium = $1",
            space.consortium_id,
        )
    ]
    sealer = await sealing.sealer(space.scope)

    def noop(household_id: uuid.UUID, what: str, sealed: str) -> dict[str, Any]:
        return {}

    def best(run: Any) -> float:
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for household_id, sealed in rows:
                run(household_id, sealed)
            times.append(time.perf_counter() - start)
        return 1e6 * min(times) / len(rows)

    cipher = AESGCM(sealer.key)
    raw = {h: base64.b64decode(s.removeprefix("1.")) for h, s in rows}
    plain = {h: sealer.open(h, "identity", s) for h, s in rows}
    cost = {
        "identities": float(len(rows)),
        "open_json": best(lambda h, s: sealer.open_json(h, "identity", s)),
        "no-op": best(lambda h, s: noop(h, "identity", s)),
        "AESGCM(key)": best(lambda h, s: AESGCM(sealer.key)),
        "base64": best(lambda h, s: base64.b64decode(s.removeprefix("1."))),
        "decrypt": best(
            lambda h, s: cipher.decrypt(raw[h][:12], raw[h][12:], h.bytes + b"identity")
        ),
        "json.loads": best(lambda h, s: json.loads(plain[h])),
    }
    times = []
    for _ in range(200):
        start = time.perf_counter()
        await sealing.sealer(space.scope)
        times.append(time.perf_counter() - start)
    cost["sealer()"] = 1e6 * statistics.median(times)
    return cost


async def read_log_cost(conn: Any, space: Any) -> dict[int, tuple[float, float]]:
    """Milliseconds to write the read log of a page showing n names (`Reads.flush`, one INSERT
    outside a transaction, as the pages do), and of that the building of piccolo's row objects
    and SQL; median of 20, as the space's first worker (the rows stay in its read log)."""
    from portal.core import scoped
    from portal.core.tenancy import TenantContext
    from portal.households import reads
    from portal.households.enums import Read
    from portal.households.tables import Read as ReadRow

    member = await conn.fetchrow(
        'SELECT id, "user", organisation FROM tenants_membership WHERE consortium = $1'
        " AND role = 'association_staff' ORDER BY created_at, id LIMIT 1",
        space.consortium_id,
    )
    ctx = TenantContext.for_member(
        consortium_id=space.consortium_id,
        slug=space.slug,
        name=space.slug,
        user_id=member["user"],
        membership_id=member["id"],
        organisation_id=member["organisation"],
        role="association_staff",
        may_sign=False,
    )
    shown = await conn.fetch(
        "SELECT id, pseudonym FROM households_household WHERE consortium = $1"
        " ORDER BY pseudonym DESC LIMIT 50",
        space.consortium_id,
    )
    found = {}
    for n in (1, 17, 50):
        whole, built = [], []
        for _ in range(20):
            log = reads.Reads(ctx)
            for row in shown[:n]:
                log.add(row["id"], row["pseudonym"], Read.IDENTITY)
            start = time.perf_counter()
            query = scoped.insert(ctx, ReadRow, *log.rows)
            for q in query.querystrings:
                q.compile_string(engine_type="postgres")
            built.append(time.perf_counter() - start)
            start = time.perf_counter()
            await log.flush()
            whole.append(time.perf_counter() - start)
        found[n] = (1000 * statistics.median(whole), 1000 * statistics.median(built))
    return found


# Main ---------------------------------------------------------------------------------------


async def main() -> None:
    import asyncpg

    os.environ["PORTAL_DATABASE_URL"] = DATABASE_URL
    os.environ.setdefault("PORTAL_DATA_DIR", tempfile.mkdtemp(prefix="portal-bench-"))
    os.environ.setdefault("PORTAL_LOG_LEVEL", "WARNING")  # no access log line per request
    # This checkout's portal, not the one the virtualenv was installed from.
    sys.path[:0] = [str(ROOT), str(HERE.parent)]
    name = urlsplit(DATABASE_URL).path.lstrip("/")
    admin = await asyncpg.connect(DATABASE_URL.rsplit("/", 1)[0] + "/postgres")
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    if PLAN_CACHE_MODE in ("auto", "force_custom_plan", "force_generic_plan"):
        await admin.execute(f'ALTER DATABASE "{name}" SET plan_cache_mode = {PLAN_CACHE_MODE}')
    await admin.close()

    import households_seed

    import portal  # noqa: F401
    from portal.core import db

    await db.migrate()
    await db.start()
    conn = await asyncpg.connect(DATABASE_URL)
    try:
        spaces, seeding = await households_seed.seed(conn, OTHERS, HOUSEHOLDS, USERS)
        big_space, small_space = spaces[0], spaces[1]
        sizes = await conn.fetchrow(
            "SELECT (SELECT count(*) FROM tenants_consortium) AS consortia,"
            " (SELECT count(*) FROM households_household) AS households,"
            " (SELECT count(*) FROM households_household WHERE consortium = $1) AS big,"
            " (SELECT count(*) FROM households_household WHERE consortium = $2) AS small,"
            " (SELECT count(*) FROM households_transition) AS transitions,"
            " (SELECT count(*) FROM auth_user) AS users",
            big_space.consortium_id,
            small_space.consortium_id,
        )
        print(
            f"seeded {sizes['consortia']} consortia, {sizes['users']} users,"
            f" {sizes['households']} households ({sizes['big']} in {big_space.slug},"
            f" {sizes['small']} in {small_space.slug}), {sizes['transitions']} transitions: "
            + ", ".join(f"{k} {v:.1f} s" for k, v in seeding.items())
        )
        big = await targets(conn, big_space, USERS)
        small = await targets(conn, small_space, 1)
        cost = await unseal_cost(conn, big_space)
        read_log = await read_log_cost(conn, big_space)
        counts = await per_request(small, big)
    finally:
        await conn.close()
        await db.stop()

    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the servers import this checkout too
    portal_port, bare_port = harness.free_port(), harness.free_port()
    python = sys.executable
    servers = [
        await asyncio.create_subprocess_exec(
            *(python, "-m", "portal.cli", "serve", "--workers", "2", "--port", str(portal_port)),
            cwd=ROOT,
            env=env,
        ),
        await asyncio.create_subprocess_exec(
            *(python, "-m", "uvicorn", "--app-dir", str(HERE.parent), "bare_home:app"),
            *("--workers", "2", "--port", str(bare_port), "--log-level", "warning"),
            "--no-access-log",
            cwd=ROOT,
            env=env,
        ),
    ]
    try:
        portal_url, bare_url = f"http://127.0.0.1:{portal_port}", f"http://127.0.0.1:{bare_port}"
        await harness.wait_for(portal_url + "/healthz", servers[0])
        await harness.wait_for(bare_url + "/", servers[1])
        tokens: dict[str, list[str]] = {"staff": [], "pilot": []}
        for t in big:  # one at a time: argon2 on 2 cores
            for who in tokens:
                tokens[who].append(
                    await harness.sign_in(portal_url, t[who], households_seed.PASSWORD)
                )
        pids = {
            portal_url: harness.worker_pids(servers[0].pid),
            bare_url: harness.worker_pids(servers[1].pid),
        }

        def step(page: str, seconds: float) -> dict[str, Any]:
            base = bare_url if page == "bare" else portal_url
            return {
                "page": page,
                "who": PAGES[page][0],
                "base": base,
                "seconds": seconds,
                "paths": [path_of(page, t) for t in big],
                "pids": pids[base],
            }

        warm = [step(p, 1) for p in PAGES]
        rounds = [step(p, SECONDS) for _ in range(ROUNDS) for p in PAGES]
        load_start = os.getloadavg()
        spec = {"tokens": tokens, "database": name}
        every_pid = pids[portal_url] + pids[bare_url]
        before = (machine_busy(), harness.cpu_seconds(every_pid), harness.database_cpu(name))
        results = run_load({**spec, "steps": warm + rounds})[len(warm) :]
        ours = (
            harness.cpu_seconds(every_pid)
            - before[1]
            + load_cpu[-1]
            + sum(t - before[2].get(pid, 0.0) for pid, t in harness.database_cpu(name).items())
        )
        others = machine_busy() - before[0] - ours
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            await server.wait()

    report(rounds, results, counts, cost, read_log, load_start, others)


def report(
    rounds: list[dict[str, Any]],
    results: list[dict[str, Any]],
    counts: dict[str, Any],
    cost: dict[str, float],
    read_log: dict[int, tuple[float, float]],
    load_start: tuple[float, float, float],
    others: float,
) -> None:
    merged: dict[str, dict[str, Any]] = {}
    for s, r in zip(rounds, results, strict=True):
        m = merged.setdefault(
            s["page"], {"latencies": [], "elapsed": 0.0, "errors": 0, "app": [], "db": []}
        )
        m["latencies"] += r["latencies"]
        m["elapsed"] += r["elapsed"]
        m["app"].append(r["app_cpu"])
        m["db"].append(r["db_cpu"])
        m["errors"] += sum(r["errors"].values())
    rate = {page: len(m["latencies"]) / m["elapsed"] for page, m in merged.items()}
    p50 = {page: harness.percentile(sorted(m["latencies"]), 0.5) for page, m in merged.items()}
    app = {page: statistics.mean(m["app"]) for page, m in merged.items()}

    print(
        f"{HOUSEHOLDS} households, {OTHERS} other consortia, {USERS} users, {ROUNDS} rounds x"
        f" {SECONDS:g} s per page, Python {sys.version.split()[0]}, load average at start"
        f" {load_start[0]:.2f} and end {os.getloadavg()[0]:.2f}, load generator CPU"
        f" {sum(load_cpu):.0f} s, CPU of the machine's other processes meanwhile {others:.0f} s"
        + (f", plan_cache_mode = {PLAN_CACHE_MODE}" if PLAN_CACHE_MODE else "")
    )
    header = f"{'page':<14}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'req/s':>8}{'ratio':>7}"
    print(
        header + f"{'queries':>9}{'10 hh':>7}{'unseals':>9}{'sql ms':>12}"
        f"{'app ms':>8}{'db ms':>7}  errors"
    )
    for page, m in merged.items():
        lat = sorted(m["latencies"])
        if page == "bare":
            q, few, opened, sql_ms = "5", "5", "0", "-"
        else:
            sql, tx, n, ms = counts[page]["big"]
            q = f"{sql}+{tx}tx" if tx else str(sql)
            few_sql, few_tx, few_n, few_ms = counts[page]["small"]
            few = f"{few_sql}+{few_tx}tx" if few_tx else str(few_sql)
            opened = str(n) if n == few_n else f"{n}/{few_n}"
            sql_ms = f"{ms:.1f}/{few_ms:.1f}"
        print(
            f"{page:<14}{1000 * p50[page]:>8.0f}{1000 * harness.percentile(lat, 0.95):>8.0f}"
            f"{1000 * harness.percentile(lat, 0.99):>8.0f}{rate[page]:>8.0f}"
            f"{rate[page] / rate['bare']:>7.2f}{q:>9}{few:>7}{opened:>9}{sql_ms:>12}"
            f"{1000 * app[page]:>8.1f}{1000 * statistics.mean(m['db']):>7.1f}"
            f"  {m['errors'] or ''}"
        )
    print(
        f"queries: SQL statements of one request in the consortium of {HOUSEHOLDS} households"
        " (+Ntx: BEGIN/COMMIT besides); 10 hh: the same page in the consortium of 10."
        " unseals: values unsealed by one request, big/small consortium when they differ (on"
        " the file page: the identity and the reason of each pathway move). ratio: req/s"
        " over the bare page's. app ms, db ms: CPU per request of the 2 web workers and of"
        " the PostgreSQL backends."
    )
    print(
        f"sql ms: time in SQL of one request ({HOUSEHOLDS:,} households/10), serial, after"
        f" {WARM} warm requests. Per page, in the big consortium, the statements sent more"
        " than once and the slowest (times sent, ms in all):"
    )
    for page, sent in counts["statements"].items():
        for n, ms, text in slowest(sent):
            print(f"  {page:<13}{n:>2} x {ms:>5.1f} ms  {text[:100]}")

    per_file = cost["open_json"] - cost["no-op"]
    print(
        f"\nunseal alone, over the {cost['identities']:.0f} identities of the big consortium"
        f" (best of 5): Sealer.open_json {cost['open_json']:.1f} µs per identity, a no-op"
        f" {cost['no-op']:.2f} µs: {per_file:.1f} µs per file. Its parts: AESGCM(key)"
        f" {cost['AESGCM(key)']:.1f} µs (built at each open), base64 {cost['base64']:.1f} µs,"
        f" AES-GCM decrypt {cost['decrypt']:.1f} µs, json.loads {cost['json.loads']:.1f} µs."
        f" sealing.sealer(scope): {cost['sealer()']:.0f} µs (a data-key query, each call)."
    )
    named, anonymous = "file name", "file no name"
    cpu_share = 100 * per_file / (1e6 * app[named])
    p50_share = 100 * per_file / (1e6 * p50[named])
    print(
        f"per file opened: {per_file:.1f} µs of unseal = {cpu_share:.2f} % of the file page's"
        f" CPU ({1000 * app[named]:.1f} ms) and {p50_share:.3f} % of its p50 at {USERS} users"
        f" ({1000 * p50[named]:.0f} ms). Reading the identity as a whole (its query, the"
        " data-key query, the unseal, the read-log row):"
        f" {1000 * (app[named] - app[anonymous]):+.1f} ms of web-worker CPU and"
        f" {1000 * (p50[named] - p50[anonymous]):+.0f} ms of p50 against the same page without"
        " a name."
    )
    listed = counts["caseload"]["big"][2]
    print(
        f"caseload: {listed} unseals x {per_file:.1f} µs = {listed * per_file / 1000:.2f} ms,"
        f" {100 * listed * per_file / (1e6 * app['caseload']):.1f} % of its CPU"
        f" ({1000 * app['caseload']:.1f} ms)."
    )
    print(
        "read log of one page (Reads.flush: one INSERT, its commit; of which piccolo's row"
        " objects and SQL): "
        + ", ".join(f"{n} names {w:.1f} ms ({b:.1f} ms)" for n, (w, b) in read_log.items())
    )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--load"]:
        steps = asyncio.run(drive(json.loads(Path(sys.argv[2]).read_text())))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({"steps": steps, "cpu": usage.ru_utime + usage.ru_stime}))
    else:
        asyncio.run(main())
