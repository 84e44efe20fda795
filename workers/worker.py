"""`portal worker`: an arq worker under a supervisor that outlives its dependencies.

It starts while Redis or the database is down, waits, and connects when they answer; when
Redis goes away it lets the jobs in progress finish (they need the database, not Redis), then
reconnects with backoff. A heartbeat every few seconds tells `/healthz` it is alive and extends
the lease of the jobs it runs. Each change of state is logged once; SIGTERM stops it cleanly
(no new job, the running ones finish within `STOP_GRACE`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from urllib.parse import urlsplit

from arq.worker import Worker, create_worker
from redis.exceptions import RedisError

from portal.core import clock, db
from portal.jobs import service as jobs
from portal.settings import get_settings
from workers.settings import Running, WorkerSettings, shutdown

log = logging.getLogger("workers.worker")
STOP_GRACE = 30.0  # on SIGTERM, for the running jobs; those still running are given back
MAX_BACKOFF = 10.0


class Supervisor:
    def __init__(self, burst: bool) -> None:
        self.burst = burst
        self.stop = asyncio.Event()
        self.redis_state = "waiting"
        self.started_at = clock.now()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop_requested, sig)
        url = get_settings().redis_url or ""
        log.info(
            "Worker démarré (%s), Redis %s, bail des tâches %s s",
            jobs.runner_id(),
            _safe(url),
            get_settings().job_lease_seconds,
        )
        if not await self._database():
            return 0
        beat = asyncio.create_task(self._heartbeat())
        try:
            return await self._serve()
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)
            await db.stop()
            log.info("Worker arrêté")

    def _stop_requested(self, sig: signal.Signals) -> None:
        log.info("Arrêt demandé (%s) : plus de nouvelle tâche", sig.name)
        self.stop.set()

    async def _database(self) -> bool:
        """Applies pending migrations once the database answers; False if stopped first."""
        delay = 1.0
        warned = False
        while not self.stop.is_set():
            try:
                await db.start()
                await db.migrate()
                if warned:
                    log.info("Base de données revenue")
                return True
            except Exception as exc:
                if not db.unavailable(exc):
                    raise
                if not warned:
                    log.warning("Base de données injoignable, le worker attend : %s", exc)
                    warned = True
                with contextlib.suppress(Exception):
                    await db.stop()
                await self._sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
        return False

    async def _serve(self) -> int:
        delay = 1.0
        while not self.stop.is_set():
            worker: Worker = create_worker(WorkerSettings, burst=self.burst)  # type: ignore[arg-type]
            worker.ctx["on_connect"] = self._connected
            main = asyncio.create_task(worker.main())
            stopping = asyncio.create_task(self.stop.wait())
            await asyncio.wait({main, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not main.done():  # SIGTERM
                await self._close(worker, main, STOP_GRACE)
                return 0
            failure = main.exception()
            # Redis gone: the running jobs only need the database, they may finish.
            settings = get_settings()
            await self._close(
                worker, main, settings.job_timeout_seconds + settings.job_lease_seconds
            )
            if failure is None:  # --burst: the queue is empty
                return 0
            if not isinstance(failure, RedisError | OSError):
                log.error("Worker interrompu", exc_info=failure)
            elif self.redis_state == "connected":
                log.warning("Redis perdu (%s) : reconnexion", failure)
                delay = 1.0
            elif delay == 1.0:
                log.warning("Redis injoignable (%s) : le worker attend", failure)
            self.redis_state = "waiting"
            if self.burst:
                return 1
            await self._sleep(delay)
            delay = min(delay * 2, MAX_BACKOFF)
        return 0

    def _connected(self) -> None:
        log.info("Redis connecté : le worker prend les tâches")
        self.redis_state = "connected"

    async def _close(self, worker: Worker, main: asyncio.Task[None], grace: float) -> None:
        """No new job; those in progress get `grace` seconds to finish (then they are given
        back to the outbox), and the connection is dropped. Not `Worker.close()`: it needs
        Redis, which may be the thing that is gone."""
        worker.allow_pick_jobs = False
        running = [t for t in worker.tasks.values() if not t.done()]
        if running:
            log.info("%s tâche(s) en cours : elles se terminent", len(running))
            await asyncio.wait(running, timeout=grace)
        for task in [*worker.tasks.values(), main]:
            task.cancel()
        await asyncio.gather(*worker.tasks.values(), main, return_exceptions=True)
        await shutdown(worker.ctx)
        if worker._pool is not None:
            with contextlib.suppress(Exception):
                await worker._pool.aclose()

    async def _heartbeat(self) -> None:
        warned = False
        while True:
            try:
                await jobs.heartbeat("worker", self.redis_state, Running.count, self.started_at)
                if warned:
                    log.info("Battement de cœur rétabli")
                    warned = False
            except Exception as exc:
                if not warned:
                    log.warning("Battement de cœur impossible (base injoignable ?) : %s", exc)
                    warned = True
            await asyncio.sleep(jobs.heartbeat_every())

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=seconds)


def _safe(url: str) -> str:
    """The URL without its password, for the log."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url


def run(burst: bool = False) -> int:
    return asyncio.run(Supervisor(burst).run())
