from __future__ import annotations

import os
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func
from redis.exceptions import RedisError

from tests.conftest import redis_test_url
from workers.settings import run_outbox_job

REDIS_URL = os.environ.get("PORTAL_TEST_REDIS_URL", redis_test_url(0))
REDIS_PORT = urlsplit(REDIS_URL).port or 6379


@pytest.fixture
async def redis_pool() -> AsyncIterator[ArqRedis]:
    try:
        pool = await create_pool(RedisSettings.from_dsn(REDIS_URL))
        await pool.ping()
    except (RedisError, OSError) as exc:
        pytest.skip(f"Redis injoignable sur {REDIS_URL} : {exc}")
    await pool.flushdb()
    yield pool
    await pool.flushdb()
    await pool.aclose()


async def run_worker(pool: ArqRedis) -> None:
    """A real arq worker in burst mode: runs what is queued, then stops."""
    worker = Worker(
        functions=[func(run_outbox_job, name="run_outbox_job")],
        redis_pool=pool,
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
    )
    # Not worker.close(): it would close the fixture's pool too.
    await worker.main()
