"""Jobs and e-mails when the database, SMTP or Redis fail at the worst moment: an e-mail the
server accepted is not sent twice (or, for an access e-mail, sent again under the same
Message-ID, as the README says), a job's lock is released as soon as the database is back, a
killed runner's jobs run again once its lease expires, and jobs Redis lost go back at once."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from arq.connections import ArqRedis

from portal.core import clock as portal_clock
from portal.core.db import transaction
from portal.jobs import repository
from portal.jobs import service as jobs
from portal.jobs.enums import JobStatus
from portal.jobs.tables import MailDelivery, OutboxJob
from portal.notifications import repository as notifications_repository
from portal.notifications import service as notifications
from tests.conftest import World, login
from tests.jobs.conftest import REDIS_PORT, REDIS_URL
from tests.jobs.test_delivery import ask_reset, only_job, wait_for
from tests.services import SmtpServer, TcpProxy, setting
from workers.handlers import HANDLERS


def failing(times: int | None, calls: list[int] | None = None) -> Callable[..., object]:
    """A repository function that raises "connection refused" (`times` times, or always)."""
    count = calls if calls is not None else []

    async def down(*args: object, **kwargs: object) -> None:
        count.append(1)
        if times is None or len(count) <= times:
            raise ConnectionRefusedError("database gone")
        await down.real(*args, **kwargs)  # type: ignore[attr-defined]

    return down


def break_(monkeypatch: pytest.MonkeyPatch, module: object, name: str, times: int | None) -> None:
    down = failing(times)
    down.real = getattr(module, name)  # type: ignore[attr-defined]
    monkeypatch.setattr(module, name, down)


async def mention(world: World) -> uuid.UUID:
    async with transaction():
        [notification_id] = await notifications.notify(
            [world.tenant.association_worker.id],
            kind="convention_mention",
            title="Claire vous mentionne",
            consortium_id=world.tenant.id,
        )
    return notification_id


async def run_later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """Runs what is due `seconds` from now (past leases and retry delays)."""
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)
    monkeypatch.setattr(portal_clock, "now", lambda: later)
    await jobs.run_due(HANDLERS)


class TestAcceptedButNotRecorded:
    """SMTP accepted the message, then the database went away before it was recorded."""

    async def test_a_notification_is_not_sent_again(
        self, world: World, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await mention(world)
        with setting("job_lease_seconds", 1):
            break_(monkeypatch, repository, "set_delivery", None)
            break_(monkeypatch, notifications_repository, "mark_emailed", None)
            break_(monkeypatch, repository, "fail", None)
            await jobs.run_due(HANDLERS)
            assert (await only_job())["status"] == JobStatus.RUNNING  # its outcome unknown
            monkeypatch.undo()
            await run_later(monkeypatch, 5)  # the lease expired: it runs again
        assert (await only_job())["status"] == JobStatus.DONE
        assert len(smtp.handler.messages) == 1
        [delivery] = await MailDelivery.select()
        assert delivery["state"] == "uncertain"

    async def test_an_access_email_is_sent_again_under_the_same_message_id(
        self,
        client: httpx.AsyncClient,
        world: World,
        smtp: SmtpServer,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await ask_reset(client, world)
        with setting("job_lease_seconds", 1):
            break_(monkeypatch, repository, "set_delivery", None)
            break_(monkeypatch, repository, "finish", None)
            await jobs.run_due(HANDLERS)
            monkeypatch.undo()
            await run_later(monkeypatch, 5)
        assert (await only_job())["status"] == JobStatus.DONE
        first, second = smtp.handler.messages
        assert first["Message-ID"] == second["Message-ID"]
        assert first["Message-ID"].endswith("@testserver>")
        [delivery] = await MailDelivery.select()
        assert delivery["state"] == "sent" and delivery["attempts"] == 2

    async def test_the_record_waits_for_the_database_and_the_lock_is_released_at_once(
        self, world: World, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await mention(world)
        break_(monkeypatch, repository, "set_delivery", 2)
        break_(monkeypatch, repository, "finish", 2)
        started = time.monotonic()
        await jobs.run_due(HANDLERS)
        elapsed = time.monotonic() - started
        job = await only_job()
        assert job["status"] == JobStatus.DONE and job["locked_until"] is None
        assert elapsed < 5  # not the lease, not the job timeout: as soon as it answers
        assert len(smtp.handler.messages) == 1
        [delivery] = await MailDelivery.select()
        assert delivery["state"] == "sent"


class TestOutcomeOfAFailure:
    async def test_a_failed_job_is_released_as_soon_as_the_database_is_back(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        async def outage(payload: dict[str, object]) -> None:
            raise ConnectionRefusedError("database gone")

        await jobs.enqueue("test.outage", {})
        break_(monkeypatch, repository, "fail", 3)
        await jobs.run_due({"test.outage": outage})
        job = await only_job()
        assert job["status"] == JobStatus.PENDING and job["locked_until"] is None
        assert job["attempts"] == 0  # an outage does not count as a failed attempt
        assert "database gone" in job["last_error"]


class TestClaimWhoseAnswerIsLost:
    async def test_the_job_is_given_back_at_once_not_after_its_lease(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        real = repository.claim

        async def committed_then_lost(*args: object, **kwargs: object) -> object:
            await real(*args, **kwargs)  # type: ignore[arg-type]
            raise ConnectionResetError("connection lost before the answer")

        await jobs.enqueue("test.any", {})
        job_id = (await only_job())["id"]
        monkeypatch.setattr(repository, "claim", committed_then_lost)
        with pytest.raises(ConnectionResetError):
            await jobs.execute(job_id, {})
        job = await only_job()
        assert job["status"] == JobStatus.PENDING and job["attempts"] == 0
        assert job["locked_until"] is None


class TestStoppedOrTooLong:
    async def test_a_job_past_its_timeout_is_a_counted_failure_not_an_outage(
        self, world: World
    ) -> None:
        async def endless(payload: dict[str, object]) -> None:
            await asyncio.sleep(60)

        await jobs.enqueue("test.endless", {})
        with setting("job_timeout_seconds", 1):
            await jobs.run_due({"test.endless": endless})
        job = await only_job()
        assert job["status"] == JobStatus.PENDING and job["attempts"] == 1
        assert "JobTimeout" in job["last_error"]

    async def test_a_job_stopped_by_a_shutdown_is_given_back_at_once(self, world: World) -> None:
        started = asyncio.Event()

        async def slow(payload: dict[str, object]) -> None:
            started.set()
            await asyncio.sleep(60)

        await jobs.enqueue("test.slow", {})
        job_id = (await only_job())["id"]
        running = asyncio.create_task(jobs.execute(job_id, {"test.slow": slow}))
        await started.wait()
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        job = await only_job()
        assert job["status"] == JobStatus.PENDING and job["attempts"] == 0
        assert job["locked_until"] is None and job["run_after"] <= dt.datetime.now(dt.UTC)

    async def test_the_heartbeat_renews_only_the_jobs_the_process_is_running(
        self, world: World
    ) -> None:
        await jobs.enqueue("test.slow", {})
        job_id = (await only_job())["id"]
        at = dt.datetime.now(dt.UTC)
        # Claimed by this very runner, but not running any more (its answer was lost).
        await repository.claim(job_id, at, at + dt.timedelta(seconds=5), jobs.runner_id())
        await jobs.heartbeat("worker", "connected", 0, at)
        assert (await only_job())["locked_until"] <= at + dt.timedelta(seconds=5)


class TestLostInHandOver:
    async def test_connection_lost_after_the_message_is_handed_over(
        self, world: World, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The server got the message and dropped the connection before answering: it may
        have been accepted. A notification is not sent again; it is listed for the admins."""

        async def drop(server: object, session: object, envelope: object) -> str:
            server.transport.close()  # type: ignore[attr-defined]
            return "250 never heard"

        monkeypatch.setattr(smtp.handler, "handle_DATA", drop)
        notification_id = await mention(world)
        await jobs.run_due(HANDLERS)
        assert (await only_job())["status"] == JobStatus.DONE
        [delivery] = await MailDelivery.select()
        assert delivery["state"] == "uncertain"
        row = await notifications_repository.get(notification_id)
        assert row is not None and row["email_status"] == "sent"

    async def test_uncertain_deliveries_are_listed_for_the_admins(
        self,
        client: httpx.AsyncClient,
        world: World,
        smtp: SmtpServer,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        async def drop(server: object, session: object, envelope: object) -> str:
            server.transport.close()  # type: ignore[attr-defined]
            return "250 never heard"

        monkeypatch.setattr(smtp.handler, "handle_DATA", drop)
        await mention(world)
        await jobs.run_due(HANDLERS)
        await login(client, world.admin.email)
        page = (await client.get("/admin/taches")).text
        assert "Remises incertaines" in page and world.tenant.association_worker.email in page


class TestLease:
    async def test_a_runner_that_stops_beating_loses_its_jobs_when_the_lease_expires(
        self, world: World
    ) -> None:
        await jobs.enqueue("test.slow", {})
        job_id = (await only_job())["id"]
        at = dt.datetime.now(dt.UTC)
        claimed = await repository.claim(job_id, at, at + dt.timedelta(seconds=10), "runner-a")
        assert claimed is not None
        await repository.renew([job_id], "runner-a", at + dt.timedelta(seconds=40), at)  # beat
        assert await repository.release_abandoned(at + dt.timedelta(seconds=30), at) == 0
        assert await repository.release_abandoned(at + dt.timedelta(seconds=41), at) == 1
        assert (await only_job())["status"] == JobStatus.PENDING

    async def test_the_heartbeat_extends_only_the_leases_of_its_own_runner(
        self, world: World
    ) -> None:
        await jobs.enqueue("test.slow", {})
        job_id = (await only_job())["id"]
        at = dt.datetime.now(dt.UTC)
        await repository.claim(job_id, at, at + dt.timedelta(seconds=5), "someone-else")
        await jobs.heartbeat("worker", "connected", 1, at)
        assert (await only_job())["locked_until"] <= at + dt.timedelta(seconds=5)


class TestRedisLost:
    async def test_jobs_redis_forgot_go_back_to_the_outbox_at_once(
        self, world: World, redis_pool: ArqRedis, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        await jobs.enqueue("test.any", {})
        assert await jobs.relay_once(redis_pool) == 1
        assert await jobs.reclaim_lost(redis_pool) == 0  # just handed over: not asked yet
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=20)
        monkeypatch.setattr(portal_clock, "now", lambda: later)
        assert await jobs.reclaim_lost(redis_pool) == 0  # Redis still has it
        await redis_pool.flushdb()  # Redis restarted with nothing on disk
        assert await jobs.reclaim_lost(redis_pool) == 1
        assert (await only_job())["status"] == JobStatus.PENDING


def _worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as handle:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "portal.cli", "worker"], env=env, stdout=handle, stderr=handle
        )


async def _logged(log: Path, line: str) -> bool:
    return line in log.read_text()


class TestWorkerProcess:
    async def test_it_starts_without_redis_waits_reconnects_and_logs_each_change(
        self,
        client: httpx.AsyncClient,
        world: World,
        smtp: SmtpServer,
        redis_pool: ArqRedis,
        tmp_path: Path,
    ) -> None:
        proxy = TcpProxy(REDIS_PORT)  # the proxy is cut: Redis is "down" at start
        database = REDIS_URL.rsplit("/", 1)[1]
        env = {
            **os.environ,
            "PORTAL_REDIS_URL": f"redis://127.0.0.1:{proxy.port}/{database}",
            "PORTAL_SMTP_URL": smtp.url,
        }
        log = tmp_path / "worker.log"
        worker = _worker(env, log)
        try:
            # Waits on what the worker says, not a fixed time: a loaded machine starts it slowly.
            await wait_for(lambda: _logged(log, "Redis injoignable"), seconds=60)
            assert worker.poll() is None, log.read_text()  # still up
            await proxy.start()
            await ask_reset(client, world)
            await wait_for(lambda: _status_is(JobStatus.DONE), seconds=40)
            await proxy.cut()  # Redis goes away while it runs
            await wait_for(lambda: _logged(log, "Redis perdu"), seconds=60)
            assert worker.poll() is None, log.read_text()
            await proxy.start()
            await ask_reset(client, world)
            await wait_for(lambda: _all_done(2), seconds=40)
        finally:
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=40)
            await proxy.cut()
        text = log.read_text()
        assert code == 0, text
        for line in (
            "Worker démarré",
            "Redis injoignable",
            "Redis connecté",
            "Redis perdu",
            "Tâche auth.send_password_reset",
            "essai 1 : terminée en",
            "Arrêt demandé (SIGTERM)",
            "Worker arrêté",
        ):
            assert line in text, (line, text)
        # One configured format: time, level, logger and process on every line.
        started = next(line for line in text.splitlines() if "Worker démarré" in line)
        assert started[:4].isdigit() and " INFO workers.worker[" in started
        assert len(smtp.handler.messages) == 2


async def _status_is(status: JobStatus) -> bool:
    return bool((await only_job())["status"] == status)


async def _all_done(count: int) -> bool:
    rows = await OutboxJob.select(OutboxJob.status)
    return len(rows) == count and all(r["status"] == JobStatus.DONE for r in rows)
