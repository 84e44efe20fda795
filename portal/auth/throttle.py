"""Throttling per client address (or any key), beside the per-account lock of `service`.

`hit(bucket, key, limit, window)` counts one request in a fixed window and says whether it went
over; `check` says the same without counting (for limits that count failures only). Counters are
shared by every web process: in Redis when `PORTAL_REDIS_URL` is set, else in the database
(`auth_throttle`). If Redis does not answer, the database takes over: a Redis outage neither
opens the gates nor answers 500. This module is the auth domain's public API for throttling,
used by other domains' routes (signing code requests, /verification).

The client address comes from the ASGI scope; uvicorn has already replaced it with the
X-Forwarded-For address when the request came through a trusted proxy
(`PORTAL_FORWARDED_ALLOW_IPS`), so a client cannot choose its own. IPv6 clients are counted
per /64, the block one subscriber usually holds.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import math
import random
from dataclasses import dataclass
from typing import Any

import anyio
import redis.asyncio as redis
from redis.exceptions import RedisError
from starlette.responses import Response

from portal.auth import repository
from portal.core import clock
from portal.settings import get_settings

log = logging.getLogger("portal.throttle")
_sleep = anyio.sleep  # tests measure the slowing down without waiting

REDIS_PREFIX = "portal:throttle:"
REDIS_TIMEOUT = 1.0
# Delay added to each answer once an address has spent half its budget: a sprayer is slowed
# before being blocked, a person who mistyped twice is not.
SLOW_SECONDS = 1.0


@dataclass(frozen=True)
class Count:
    hits: int  # in the current window, this request included
    limit: int
    retry_at: dt.datetime  # end of the current window

    @property
    def over(self) -> bool:
        return self.hits > self.limit

    @property
    def slowed(self) -> bool:
        return self.hits > self.limit // 2

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil((self.retry_at - clock.now()).total_seconds() / 60))
        delay = "1 minute" if minutes == 1 else f"{minutes} minutes"
        return (
            "Trop de demandes depuis votre adresse réseau. Par sécurité, elles sont suspendues "
            f"pour l'instant : réessayez dans {delay}."
        )


def retry_after(response: Response, count: Count) -> Response:
    """The refusal's Retry-After header, for clients that honour it."""
    seconds = max(1, math.ceil((count.retry_at - clock.now()).total_seconds()))
    response.headers["Retry-After"] = str(seconds)
    return response


def client_address(scope: Any) -> str:
    """The address requests are counted under: `scope` is an ASGI scope or a Request."""
    client = scope.get("client") if isinstance(scope, dict) else getattr(scope, "client", None)
    host = client[0] if client else ""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host[:64] or "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def _slot(window: dt.timedelta) -> tuple[int, int, dt.datetime]:
    seconds = max(1, int(window.total_seconds()))
    slot = int(clock.now().timestamp()) // seconds
    end = (slot + 1) * seconds
    return slot, end, dt.datetime.fromtimestamp(end, dt.UTC)


async def hit(bucket: str, key: str, limit: int, window: dt.timedelta) -> Count:
    """Counts this request; `.over` once more than `limit` were counted in the window."""
    slot, end, retry_at = _slot(window)
    key = key[:128]
    hits = await _redis_hit(bucket, key, slot, end)
    if hits is None:
        hits = await repository.throttle_hit(bucket, key, slot, end)
        if random.random() < 0.01:  # old windows are dead weight: sweep now and then
            await repository.purge_throttle(int(clock.now().timestamp()))
    return Count(hits, limit, retry_at)


async def check(bucket: str, key: str, limit: int, window: dt.timedelta) -> Count:
    """What `hit` would answer for one more request, without counting it."""
    slot, _, retry_at = _slot(window)
    key = key[:128]
    hits = await _redis_count(bucket, key, slot)
    if hits is None:
        hits = await repository.throttle_count(bucket, key, slot)
    return Count(hits + 1, limit, retry_at)


async def pause(count: Count) -> None:
    """Slows the answer once half the budget is spent."""
    if count.slowed:
        await _sleep(SLOW_SECONDS)


def _client() -> redis.Redis | None:
    url = get_settings().redis_url
    if not url:
        return None
    client: redis.Redis = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT
    )
    return client


async def _redis_hit(bucket: str, key: str, slot: int, end: int) -> int | None:
    client = _client()
    if client is None:
        return None
    name = f"{REDIS_PREFIX}{bucket}:{key}:{slot}"
    try:
        async with client.pipeline(transaction=True) as pipe:
            pipe.incr(name)
            pipe.expireat(name, end + 1)
            hits, _ = await pipe.execute()
        return int(hits)
    except (RedisError, OSError) as exc:
        log.warning("Redis injoignable pour le comptage %s, repli sur la base : %s", bucket, exc)
        return None
    finally:
        await client.aclose()


async def _redis_count(bucket: str, key: str, slot: int) -> int | None:
    client = _client()
    if client is None:
        return None
    try:
        value = await client.get(f"{REDIS_PREFIX}{bucket}:{key}:{slot}")
        return int(value or 0)
    except (RedisError, OSError) as exc:
        log.warning("Redis injoignable pour le comptage %s, repli sur la base : %s", bucket, exc)
        return None
    finally:
        await client.aclose()
