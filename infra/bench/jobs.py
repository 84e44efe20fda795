"""Benchmark of the job layer (not a test): 10,000 no-op jobs through the outbox, the relay and
an arq worker, next to arq alone on the same Redis.

    PORTAL_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/portal_bench \\
    PORTAL_BENCH_REDIS_URL=redis://127.0.0.1:6379/14 .venv/bin/python infra/bench/jobs.py

The database named in PORTAL_DATABASE_URL is emptied of jobs; use a scratch database.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from typing import Any

os.environ.setdefault("PORTAL_DATA_DIR", tempfile.mkdtemp(prefix="portal-bench-"))

from arq import create_pool  # noqa: E402
from arq.connections import ArqRedis, RedisSettings  # noqa: E402
from arq.worker import Worker, func  # noqa: E402

import portal  # noqa: E402, F401
from portal.core import db  # noqa: E402
from portal.jobs import service as jobs  # noqa: E402
from portal.jobs.tables import OutboxJob  # noqa: E402
from workers.handlers import HANDLERS  # noqa: E402
from workers.settings import run_outbox_job  # noqa: E402

COUNT = int(os.environ.get("PORTAL_BENCH_JOBS", "10000"))
REDIS_URL = os.environ.get("PORTAL_BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


async def noop(payload: dict[str, Any]) -> None:
    return None


async def arq_noop(ctx: dict[str, Any], n: int) -> None:
    return None


async def burst(pool: ArqRedis, function: Any, name: str) -> float:
    worker = Worker(
        functions=[func(function, name=name)],
        redis_pool=pool,
        burst=True,
        handle_signals=False,
        poll_delay=0.01,
        max_jobs=10,
        keep_result=0,
        log_results=False,
    )
    start = time.perf_counter()
    await worker.main()
    return time.perf_counter() - start


def rate(seconds: float) -> float:
    return COUNT / seconds


async def main() -> None:
    HANDLERS["bench.noop"] = noop
    await db.migrate()
    await db.start()
    await OutboxJob.delete(force=True)
    pool = await create_pool(RedisSettings.from_dsn(REDIS_URL))
    await pool.flushdb()

    start = time.perf_counter()
    for n in range(COUNT):
        await jobs.enqueue("bench.noop", {"n": n})
    outbox_enqueue = time.perf_counter() - start

    start = time.perf_counter()
    while await jobs.relay_once(pool, limit=1000):
        pass
    relay = time.perf_counter() - start

    outbox_worker = await burst(pool, run_outbox_job, "run_outbox_job")
    done = await OutboxJob.count().where(OutboxJob.status == "done")
    assert done == COUNT, f"{done} jobs done out of {COUNT}"

    await pool.flushdb()
    start = time.perf_counter()
    for n in range(COUNT):
        await pool.enqueue_job("arq_noop", n)
    arq_enqueue = time.perf_counter() - start
    arq_worker = await burst(pool, arq_noop, "arq_noop")

    await pool.flushdb()
    await pool.aclose()
    await OutboxJob.delete(force=True)
    await db.stop()

    engine = db.engine().engine_type
    print(f"{COUNT} no-op jobs, database: {engine}, Python {sys.version.split()[0]}")
    print(f"{'stage':<34}{'jobs/s':>10}")
    print(f"{'outbox enqueue (1 txn per job)':<34}{rate(outbox_enqueue):>10.0f}")
    print(f"{'outbox relay to Redis':<34}{rate(relay):>10.0f}")
    print(f"{'worker running outbox jobs':<34}{rate(outbox_worker):>10.0f}")
    print(f"{'arq alone: enqueue':<34}{rate(arq_enqueue):>10.0f}")
    print(f"{'arq alone: worker':<34}{rate(arq_worker):>10.0f}")
    print(f"worker ratio outbox/arq alone: {arq_worker / outbox_worker:.2f}")
    print(f"enqueue-to-Redis ratio (outbox enqueue + relay)/arq enqueue: {arq_enqueue / (outbox_enqueue + relay):.2f}")


if __name__ == "__main__":
    asyncio.run(main())
