"""`/healthz`: the state and latency of every dependency, for the load balancer and the operator.

200 while the database answers (pages work without Redis, storage or SMTP: what needs them
says so), with `"status": "degraded"` when something else is wrong; 503 when the database is
down. Checks that reach another server have a timeout and their answer is kept for a few
seconds, so a hung server or a busy probe never stacks up calls.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
import redis.asyncio as redis
from redis.exceptions import RedisError

from portal.core import clock, db, mail
from portal.core.storage import get_storage
from portal.jobs import service as jobs
from portal.objects import service as objects
from portal.settings import get_settings

Check = dict[str, Any]
TIMEOUT = 3.0
STALE_BACKLOG_SECONDS = 600
# How long an answer is reused: storage and Redis are cheap to ask, SMTP greets slowly.
KEEP = {"storage": 5.0, "mail": 10.0, "redis": 2.0}


@dataclass
class _Kept:
    at: float
    value: Check


# Keyed by the check and the address it asks: a changed setting is asked afresh.
_kept: dict[tuple[str, str], _Kept] = {}
_asking: dict[tuple[str, str], asyncio.Task[Check]] = {}


async def _timed(probe: Callable[[], Awaitable[dict[str, Any] | None]]) -> Check:
    """Runs one check within the timeout. A probe that returns without a `state` is "ok"; one
    that judges itself (degraded, say) gives its own."""
    started = time.monotonic()
    try:
        extra = await asyncio.wait_for(probe(), timeout=TIMEOUT)
        result: Check = {"state": "ok", **(extra or {})}
    except TimeoutError:
        result = {"state": "error", "error": f"pas de réponse en {TIMEOUT:.0f} s"}
    except Exception as exc:  # every failure is reported, not raised
        result = {"state": "error", "error": type(exc).__name__}
    result["latency_ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


async def _kept_for(
    name: str, address: str | None, probe: Callable[[], Awaitable[dict[str, Any] | None]]
) -> Check:
    key = (name, address or "")
    found = _kept.get(key)
    if found and time.monotonic() - found.at < KEEP[name]:
        return found.value
    task = _asking.get(key)
    if task is None or task.done() or task.get_loop() is not asyncio.get_running_loop():
        task = asyncio.ensure_future(_timed(probe))
        _asking[key] = task
    value = await asyncio.shield(task)
    _kept[key] = _Kept(time.monotonic(), value)
    return value


def forget() -> None:
    """Drops the kept answers (tests, and after a configuration change)."""
    _kept.clear()


async def _storage() -> dict[str, Any]:
    await get_storage().ping()
    return {"backend": "s3" if get_settings().storage_url else "local"}


async def _mail() -> dict[str, Any]:
    return {"transport": await mail.check()}


async def _redis() -> dict[str, Any] | None:
    url = get_settings().redis_url
    assert url is not None
    client = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        raise ConnectionError(str(exc)) from exc
    finally:
        await client.aclose()
    return None


async def _spool() -> Check:
    """The local disk uploads stream to: writable, and room for one upload of the largest size."""
    settings = get_settings()
    folder = settings.spool_dir

    def look() -> Check:
        folder.mkdir(parents=True, exist_ok=True)
        found = os.statvfs(folder)
        free = found.f_bavail * found.f_frsize
        read_only = bool(found.f_flag & os.ST_RDONLY) or not os.access(folder, os.W_OK)
        state = "error" if read_only else "degraded" if free < settings.upload_max_bytes else "ok"
        return {"state": state, "free_mb": free // (1024 * 1024), "read_only": read_only}

    return await anyio.to_thread.run_sync(look)


async def _database() -> dict[str, Any]:
    await db.ping()
    return {"engine": db.engine().engine_type}


async def _queue() -> Check:
    settings = get_settings()
    backlog, oldest = await jobs.backlog()
    late = oldest is not None and oldest > STALE_BACKLOG_SECONDS
    return {
        "state": "degraded" if late else "ok",
        "mode": "redis" if settings.redis_url else "in-process",
        "backlog": backlog,
        "oldest_pending_seconds": round(oldest) if oldest is not None else None,
    }


async def _workers() -> Check:
    settings = get_settings()
    seen = await jobs.runners(dt.timedelta(seconds=settings.worker_stale_seconds))
    kind = "worker" if settings.redis_url else "web"
    alive = [r for r in seen if r["kind"] == kind]
    last = await jobs.last_runner_seen()
    ago = (clock.now() - last).total_seconds() if last else None
    return {
        "state": "ok" if alive else "degraded",
        "alive": len(alive),
        "running": sum(r["running"] for r in alive),
        "redis_waiting": sum(1 for r in alive if r["redis"] == "waiting"),
        "stale_after_seconds": settings.worker_stale_seconds,
        "last_seen_seconds": round(ago) if ago is not None else None,
    }


async def _objects() -> Check:
    count = await objects.missing_count()
    return {"state": "degraded" if count else "ok", "missing": count}


async def report() -> tuple[int, dict[str, Any]]:
    """(HTTP status, body)."""
    settings = get_settings()
    outside: dict[str, Awaitable[Check]] = {
        "storage": _kept_for("storage", settings.storage_url, _storage),
        "mail": _kept_for("mail", settings.smtp_url, _mail),
    }
    if settings.redis_url:
        outside["redis"] = _kept_for("redis", settings.redis_url, _redis)
    database = asyncio.ensure_future(_timed(_database))
    spool = asyncio.ensure_future(_timed(_spool))
    answers = await asyncio.gather(*outside.values())
    checks: dict[str, Check] = {"database": await database, "spool": await spool}
    checks.update(zip(outside, answers, strict=True))
    if checks["database"]["state"] != "ok":
        return 503, {"status": "error", "checks": checks}
    inside = {"queue": _queue, "workers": _workers, "objects": _objects}
    results = await asyncio.gather(*(_timed(p) for p in inside.values()))
    checks.update(zip(inside, results, strict=True))
    healthy = all(c["state"] == "ok" for c in checks.values())
    return 200, {"status": "ok" if healthy else "degraded", "checks": checks}
