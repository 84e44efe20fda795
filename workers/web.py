"""The web process as `portal serve` runs it: the portal app plus its background loop."""

from __future__ import annotations

import asyncio
import logging

from arq import create_pool
from arq.connections import RedisSettings
from redis.exceptions import RedisError
from starlette.types import ASGIApp

from portal.app import create_app as create_portal_app
from portal.settings import get_settings
from workers import embedded
from workers.relay import relay_forever

log = logging.getLogger("workers.web")
RETRY_SECONDS = 5.0


async def _relay_when_redis_answers(url: str) -> None:
    """Web processes only hand jobs to Redis. If Redis is down at start, keep trying: requests
    are served meanwhile and their jobs wait in the outbox."""
    warned = False
    while True:
        try:
            settings = RedisSettings.from_dsn(url)
            settings.conn_retries = 0  # this loop waits and retries, and logs it once
            pool = await create_pool(settings)
        except (RedisError, OSError) as exc:
            if not warned:
                log.warning("Redis injoignable (%s) : les tâches attendent dans l'outbox", exc)
                warned = True
            await asyncio.sleep(RETRY_SECONDS)
            continue
        if warned:
            log.info("Redis joignable : relais de l'outbox lancé")
            warned = False
        try:
            await relay_forever(pool)
        finally:
            await pool.aclose()


def create_app() -> ASGIApp:
    url = get_settings().redis_url
    if url:
        return create_portal_app(background=lambda: _relay_when_redis_answers(url))
    return create_portal_app(background=embedded.run_forever)
