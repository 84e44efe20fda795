"""Page-load benchmark (not a test): signed-in users against `portal serve --workers 2` on
PostgreSQL, page by page, beside a bare Starlette + asyncpg + Jinja2 page rendering the tenant
home page's rows (`bare_home.py`, also 2 workers): the limit.

    PORTAL_BENCH_CONSORTIA=10 .venv/bin/python infra/bench/pages.py

    PORTAL_BENCH_CONSORTIA   consortia seeded (10; run it at 10, 100 and 1000)
    PORTAL_BENCH_USERS       concurrent signed-in users (50)
    PORTAL_BENCH_SECONDS     measured seconds per page and round (4), after 1 s of ramp-up
    PORTAL_BENCH_ROUNDS      rounds; each runs bare, portal home, then the other pages (3)
    PORTAL_BENCH_DATABASE_URL  scratch database, dropped and created
                             (postgresql://postgres@127.0.0.1:5432/bench_pages)
    PORTAL_BENCH_PYSPY       path of a py-spy binary: also samples both portal workers during an
                             extra home-page round and prints where their time goes

Seeding: `pages_seed.py` (one consortium through the portal's services, copied in bulk SQL).
Queries per request are counted in this process (the portal app over httpx.ASGITransport,
asyncpg's connection methods wrapped), on the first and the last consortium. The load runs in
a separate process (asyncio + one httpx client per user); its CPU use is printed, since it
shares the machine's cores with the servers.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]
CONSORTIA = int(os.environ.get("PORTAL_BENCH_CONSORTIA", "10"))
USERS = int(os.environ.get("PORTAL_BENCH_USERS", "50"))
SECONDS = float(os.environ.get("PORTAL_BENCH_SECONDS", "4"))
ROUNDS = int(os.environ.get("PORTAL_BENCH_ROUNDS", "3"))
DATABASE_URL = os.environ.get(
    "PORTAL_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/bench_pages"
)
PYSPY = os.environ.get("PORTAL_BENCH_PYSPY", "")
RAMP = 1.0  # seconds of each step before the measure: every user has a request in flight
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')

# page → path under /c/{slug}; {convention}: the draft with 20 budget lines, {schedule}: the
# schedule with 20 lines.
PAGES = {
    "home": "/",
    "conventions": "/conventions",
    "convention": "/conventions/{convention}",
    "budget": "/conventions/{convention}/budget",
    "history": "/conventions/{convention}/historique",
    "payments": "/versements",
    "schedule": "/versements/echeanciers/{schedule}",
    "documents": "/pieces",
    "deadlines": "/echeances",
    "members": "/membres",
}


def path_of(page: str, target: dict[str, Any]) -> str:
    return f"/c/{target['slug']}" + PAGES["home" if page == "bare" else page].format(**target)


# Load generator (a process of its own) ------------------------------------------------------


async def user(
    client: Any,
    url: str,
    window: tuple[float, float],
    latencies: list[float],
    errors: collections.Counter[int],
) -> None:
    """One signed-in user requesting `url` until the window closes; only the requests that end
    inside it are counted (before it, the 50 users are still ramping up)."""
    import httpx

    opens, closes = window
    while True:
        start = time.perf_counter()
        try:
            status = (await client.get(url)).status_code
        except httpx.HTTPError:  # e.g. a timeout on an overloaded machine: counted, not fatal
            status = -1
        end = time.perf_counter()
        errors[0] += 1  # every answer, for the CPU per request
        if end > closes:
            return
        if end < opens:
            continue
        if status == 200:
            latencies.append(end - start)
        else:
            errors[status] += 1


async def drive(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Runs each step of `spec` in turn: every user requests its path in a loop for the step's
    seconds; returns the latencies of the requests that finished within them."""
    import httpx

    clients = [
        httpx.AsyncClient(cookies={"portal_session": token}, timeout=30) for token in spec["tokens"]
    ]
    results = []
    for step in spec["steps"]:
        latencies: list[float] = []
        errors: collections.Counter[int] = collections.Counter()
        opens = time.perf_counter() + RAMP
        window = (opens, opens + step["seconds"])
        app_before, db_before = cpu_seconds(step["pids"]), database_cpu(spec["database"])
        await asyncio.gather(
            *(
                user(c, step["base"] + p, window, latencies, errors)
                for c, p in zip(clients, step["paths"], strict=True)
            )
        )
        answers = errors.pop(0, 0) or 1
        db_after = database_cpu(spec["database"])
        results.append(
            {
                "latencies": latencies,
                "elapsed": step["seconds"],
                "errors": dict(errors),
                "app_cpu": (cpu_seconds(step["pids"]) - app_before) / answers,
                "db_cpu": sum(t - db_before.get(pid, 0.0) for pid, t in db_after.items()) / answers,
            }
        )
    for c in clients:
        await c.aclose()
    return results


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def database_cpu(name: str) -> dict[int, float]:
    """CPU so far of each PostgreSQL backend serving database `name` (its process title)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            with contextlib.suppress(OSError):
                title = (proc / "cmdline").read_bytes()
                if title.startswith(b"postgres:") and f" {name} ".encode() in title:
                    found[int(proc.name)] = cpu_seconds([int(proc.name)])
    return found


def run_load(spec: dict[str, Any]) -> list[dict[str, Any]]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(spec, f)
    out = subprocess.run(
        [sys.executable, str(HERE), "--load", f.name], stdout=subprocess.PIPE, text=True, check=True
    )
    os.unlink(f.name)
    answer: dict[str, Any] = json.loads(out.stdout)
    spec_cpu.append(answer["cpu"])
    return list(answer["steps"])


spec_cpu: list[float] = []


# Servers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def wait_for(url: str, process: asyncio.subprocess.Process) -> None:
    import httpx

    async with httpx.AsyncClient() as client:
        for _ in range(600):
            if process.returncode is not None:
                raise SystemExit(f"server exited ({process.returncode}) before answering {url}")
            try:
                await client.get(url)
                return
            except httpx.TransportError:
                await asyncio.sleep(0.1)
    raise SystemExit(f"no answer from {url}")


async def sign_in(base: str, email: str, password: str) -> str:
    import httpx

    async with httpx.AsyncClient(base_url=base) as client:
        page = await client.get("/login")
        token = CSRF_RE.search(page.text)
        assert token, "no CSRF token on /login"
        response = await client.post(
            "/login", data={"email": email, "password": password, "csrf_token": token.group(1)}
        )
        assert response.status_code == 303, (email, response.status_code)
        return str(client.cookies["portal_session"])


# Queries per request ------------------------------------------------------------------------

statements: collections.Counter[str] = collections.Counter()


def count_statements() -> None:
    """Counts what the portal sends through asyncpg; BEGIN/COMMIT/ROLLBACK counted apart."""
    import asyncpg.connection

    cls = asyncpg.connection.Connection
    for name in ("execute", "executemany", "fetch", "fetchrow", "fetchval"):
        original = getattr(cls, name)

        def wrapped(self: Any, query: str, *args: Any, _original: Any = original, **kw: Any) -> Any:
            word = query.lstrip().split(None, 1)[0].upper() if query.strip() else ""
            statements["tx" if word in ("BEGIN", "COMMIT", "ROLLBACK") else "sql"] += 1
            return _original(self, query, *args, **kw)

        setattr(cls, name, wrapped)


async def queries_per_page(targets: list[dict[str, Any]]) -> dict[str, dict[str, tuple[int, int]]]:
    """page → slug → (SQL statements, transaction statements) of one warm request."""
    import httpx
    from pages_seed import PASSWORD

    from portal.app import create_app
    from portal.core import db

    count_statements()
    await db.start()
    app = create_app()
    found: dict[str, dict[str, tuple[int, int]]] = {}
    try:
        for target in targets:
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as client:
                page = await client.get("/login")
                token = CSRF_RE.search(page.text)
                assert token
                await client.post(
                    "/login",
                    data={"email": target["email"], "password": PASSWORD, "csrf_token": token[1]},
                )
                for page_name in PAGES:
                    if "{" in PAGES[page_name] and target.get("convention") is None:
                        continue  # the small consortium has no convention nor schedule
                    url = path_of(page_name, target)
                    await client.get(url)  # warm: caches, prepared statements
                    statements.clear()
                    response = await client.get(url)
                    assert response.status_code == 200, (url, response.status_code)
                    found.setdefault(page_name, {})[target["slug"]] = (
                        statements["sql"],
                        statements["tx"],
                    )
    finally:
        await db.stop()
    return found


# Profile ------------------------------------------------------------------------------------


def worker_pids(parent: int) -> list[int]:
    """uvicorn's worker processes (spawned by multiprocessing, beside its resource tracker)."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return [int(c) for c in children if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


LIBRARIES = ("piccolo", "asyncpg", "jinja2", "markupsafe", "starlette", "uvicorn", "httptools")


def _where(frame: str) -> tuple[str, str]:
    """("func", "path") of a py-spy frame written `func (path:line)`; the path is relative to
    its sys.path entry (`portal/core/db.py`), given a leading slash here."""
    func, _, rest = frame.partition(" (")
    return func, "/" + rest.rpartition(":")[0].lstrip("/")


def summarise_profile(collapsed: Path, top: int = 15) -> None:
    """Where the event loop's thread is busy, two ways: the library running (leaf frame), and
    the innermost portal function on the stack (what the portal was doing, its SQL and
    templates included). Samples of other threads, and of the loop waiting in select(), are
    left out."""
    library: collections.Counter[str] = collections.Counter()
    portal_fn: collections.Counter[str] = collections.Counter()
    busy = idle = background = 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        frames = stack.split(";")
        if not any("asyncio/runners.py" in f for f in frames):
            continue  # another thread (thread pool, multiprocessing pipe)
        if "asyncio/runners.py" in frames[-1] or "selectors.py" in frames[-1]:
            idle += int(n)
            continue
        samples = int(n)
        if not any("run_asgi" in f for f in frames):
            # The loop's own tasks: `portal serve` without Redis runs jobs and, every 5 minutes
            # in each worker, the periodic housekeeping beside the requests.
            background += samples
            continue
        busy += samples
        leaf = _where(frames[-1])[1]
        lib = next((x for x in LIBRARIES if f"/{x}/" in leaf), "")
        library[lib or ("portal" if "/portal/" in leaf else "python stdlib, asyncio, other")] += (
            samples
        )
        inner = next((f for f in reversed(frames) if "/portal/" in _where(f)[1]), "")
        func, path = _where(inner) if inner else ("(outside the portal)", "")
        portal_fn[f"{path.partition('/portal/')[2]}:{func}" if path else func] += samples
    total = max(busy, 1)
    print(
        f"\n{collapsed.stem}, home page: event loop serving requests in {busy} samples,"
        f" in its background tasks in {background}, waiting in {idle}"
    )
    print("busy time by library running:")
    for label, count in library.most_common():
        print(f"  {100 * count / total:5.1f}%  {label}")
    print("busy time by innermost portal function (its piccolo, asyncpg, jinja2 included):")
    for label, count in portal_fn.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {label}")


# Main ---------------------------------------------------------------------------------------


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p * len(sorted_values)))]


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
    await admin.close()

    import pages_seed

    import portal  # noqa: F401
    from portal.core import db

    start = time.perf_counter()
    await db.migrate()
    await db.start()
    await pages_seed.seed_template()
    await db.stop()
    template_seconds = time.perf_counter() - start
    conn = await asyncpg.connect(DATABASE_URL)
    copy_seconds = await pages_seed.copy_template(conn, CONSORTIA)
    # Mails of the seeded notifications: nothing for the servers' job loop to do meanwhile.
    await conn.execute("DELETE FROM jobs_outbox")
    targets = await pages_seed.targets(conn, USERS)
    sizes = await conn.fetchrow(
        "SELECT (SELECT count(*) FROM tenants_consortium) AS consortia,"
        " (SELECT count(*) FROM auth_user) AS users,"
        " (SELECT count(*) FROM conventions_article) AS articles,"
        " (SELECT count(*) FROM payments_line) AS payment_lines"
    )
    await conn.close()
    print(
        f"seeded {sizes['consortia']} consortia, {sizes['users']} users, {sizes['articles']}"
        f" articles, {sizes['payment_lines']} payment lines: template {template_seconds:.1f} s"
        f" (services), copies {copy_seconds:.1f} s (SQL)"
    )

    by_slug = {t["slug"]: t for t in targets}
    first, last = by_slug[min(by_slug)], by_slug[max(by_slug)]
    # The demo's second consortium shows fewer rows (3 organisations, 2 members, nothing else).
    small = {"email": "thomas.dupuis@opale-habitat-demo.fr", "slug": "cote-opale"}
    queries = await queries_per_page([*{first["slug"]: first, last["slug"]: last}.values(), small])

    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # the servers import this checkout too
    portal_port, bare_port = free_port(), free_port()
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
        await wait_for(portal_url + "/healthz", servers[0])
        await wait_for(bare_url + "/", servers[1])
        tokens = []
        for t in targets:  # one at a time: argon2 on 2 cores
            tokens.append(await sign_in(portal_url, t["email"], pages_seed.PASSWORD))

        pids = {portal_url: worker_pids(servers[0].pid), bare_url: worker_pids(servers[1].pid)}

        def step(page: str, base: str, seconds: float) -> dict[str, Any]:
            return {
                "page": page,
                "base": base,
                "seconds": seconds,
                "paths": [path_of(page, t) for t in targets],
                "pids": pids[base],
            }

        warm = [step("bare", bare_url, 1)] + [step(p, portal_url, 1) for p in PAGES]
        rounds = []
        for _ in range(ROUNDS):
            rounds += [step("bare", bare_url, SECONDS), step("home", portal_url, SECONDS)]
            rounds += [step(p, portal_url, SECONDS) for p in PAGES if p != "home"]
        for s in warm:
            s["page"] = "warm"
        load_start = os.getloadavg()
        load = {"tokens": tokens, "database": name}
        results = run_load({**load, "steps": warm + rounds})[len(warm) :]

        if PYSPY:
            folder = Path(tempfile.mkdtemp(prefix="bench-pyspy-"))
            profiles = [folder / f"worker {n + 1}.txt" for n in range(len(pids[portal_url]))]
            spies = [
                await asyncio.create_subprocess_exec(
                    *(PYSPY, "record", "--format", "raw", "--rate", "200", "--idle"),
                    *("--nonblocking", "-o", str(out), "-d", str(int(SECONDS * 2)), "-p", str(pid)),
                    stdout=subprocess.DEVNULL,
                    stderr=(folder / "py-spy.log").open("a"),
                )
                for pid, out in zip(pids[portal_url], profiles, strict=True)
            ]
            run_load({**load, "steps": [step("home", portal_url, SECONDS * 2)]})
            for spy in spies:
                await spy.wait()
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            await server.wait()

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

    print(
        f"{CONSORTIA} consortia, {USERS} users, {ROUNDS} rounds x {SECONDS:g} s per page,"
        f" Python {sys.version.split()[0]}, load average at start {load_start[0]:.2f}"
        f" and end {os.getloadavg()[0]:.2f}, load generator CPU {sum(spec_cpu):.0f} s"
    )
    header = f"{'page':<13}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'req/s':>8}{'ratio':>7}"
    print(header + f"{'queries':>9}{'small':>7}{'app ms':>8}{'db ms':>7}  errors")
    for page, m in merged.items():
        lat = sorted(m["latencies"])
        if page == "bare":
            q, few = "5", "5"
        else:
            big = [v for slug, v in queries[page].items() if slug != small["slug"]]
            counts = {sql for sql, _ in big}
            tx = max(t for _, t in big)
            q = "/".join(str(c) for c in sorted(counts)) + (f"+{tx}tx" if tx else "")
            few = str(queries[page][small["slug"]][0]) if small["slug"] in queries[page] else "-"
        print(
            f"{page:<13}{1000 * percentile(lat, 0.5):>8.0f}{1000 * percentile(lat, 0.95):>8.0f}"
            f"{1000 * percentile(lat, 0.99):>8.0f}{rate[page]:>8.0f}"
            f"{rate[page] / rate['bare']:>7.2f}{q:>9}{few:>7}"
            f"{1000 * statistics.mean(m['app']):>8.1f}{1000 * statistics.mean(m['db']):>7.1f}"
            f"  {m['errors'] or ''}"
        )
    print(
        "queries: SQL statements of one request, first/last consortium when they differ;"
        " +Ntx: BEGIN/COMMIT besides; small: the same page of a consortium with fewer rows."
        " ratio: req/s over the bare page's. app ms, db ms: CPU per request of the 2 web"
        " workers and of the PostgreSQL backends."
    )
    if PYSPY:
        for profile in profiles:
            summarise_profile(profile)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--load"]:
        steps = asyncio.run(drive(json.loads(Path(sys.argv[2]).read_text())))
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(json.dumps({"steps": steps, "cpu": usage.ru_utime + usage.ru_stime}))
    else:
        asyncio.run(main())
