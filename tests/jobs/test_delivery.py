"""Jobs are never lost and e-mails never sent twice: Redis down, SMTP down, a worker killed."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import time

import httpx
import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import job_key_prefix

from portal.core import clock as portal_clock
from portal.jobs import service as jobs
from portal.jobs.enums import JobStatus
from portal.jobs.tables import OutboxJob
from tests.conftest import World, post_form
from tests.jobs.conftest import REDIS_PORT, REDIS_URL, run_worker
from tests.services import SmtpServer, TcpProxy
from workers.handlers import HANDLERS
from workers.relay import relay_forever


async def only_job() -> dict:  # type: ignore[type-arg]
    [row] = await OutboxJob.select()
    return row


async def ask_reset(client: httpx.AsyncClient, world: World) -> None:
    response = await post_form(client, "/mot-de-passe/oublie", {"email": world.tenant.pilot.email})
    assert response.status_code == 303


async def notify_worker(world: World) -> None:
    """A notification e-mail: unlike a reset link, it stays worth sending however late."""
    from portal.core.db import transaction
    from portal.notifications import service as notifications

    async with transaction():
        await notifications.notify(
            [world.tenant.association_worker.id],
            kind="convention_mention",
            title="Claire vous mentionne",
            consortium_id=world.tenant.id,
        )


async def exhaust_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs the due jobs 5 times, 2 hours apart: past every backoff and outage delay."""
    moment = dt.datetime.now(dt.UTC)
    for _ in range(5):
        monkeypatch.setattr(portal_clock, "now", lambda moment=moment: moment)
        await jobs.run_due(HANDLERS)
        moment += dt.timedelta(hours=2)


async def wait_for(predicate, seconds: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


class TestOutbox:
    async def test_nothing_is_queued_when_the_transaction_rolls_back(self, world: World) -> None:
        from portal.core.db import transaction

        with pytest.raises(RuntimeError):
            async with transaction():
                await jobs.enqueue("auth.send_password_reset", {"token_id": "x"})
                raise RuntimeError("rollback")
        assert await OutboxJob.count() == 0

    async def test_same_dedup_key_is_enqueued_once(self, world: World) -> None:
        first = await jobs.enqueue("x", {}, dedup_key="k")
        second = await jobs.enqueue("x", {}, dedup_key="k")
        assert first is not None and second is None
        assert await OutboxJob.count() == 1

    async def test_running_a_job_twice_sends_nothing_twice(
        self, client: httpx.AsyncClient, world: World, smtp: SmtpServer
    ) -> None:
        await ask_reset(client, world)
        job = await only_job()
        handler = HANDLERS[job["name"]]
        payload = (
            job["payload"]
            if isinstance(job["payload"], dict)
            else __import__("json").loads(job["payload"])
        )
        await handler(payload)
        await handler(payload)
        assert len(smtp.handler.messages) == 1


class TestRedisUnreachable:
    async def test_job_asked_while_redis_is_down_is_delivered_when_it_returns(
        self, client: httpx.AsyncClient, world: World, smtp: SmtpServer, redis_pool: ArqRedis
    ) -> None:
        proxy = TcpProxy(REDIS_PORT)
        await proxy.start()
        pool = await create_pool(
            RedisSettings(
                host="127.0.0.1",
                port=proxy.port,
                database=redis_pool.connection_pool.connection_kwargs.get("db", 0),
            )
        )
        relay = asyncio.create_task(relay_forever(pool))
        try:
            await proxy.cut()
            await ask_reset(client, world)  # the web request succeeds
            await asyncio.sleep(1.5)
            assert (await only_job())["status"] == JobStatus.PENDING
            assert smtp.handler.messages == []

            await proxy.start()  # Redis is back
            # In Redis, not only marked queued: the relay marks the row before it enqueues, and
            # a burst worker started in between finds an empty queue and stops.
            await wait_for(lambda: _in_redis(redis_pool), seconds=15)
            await run_worker(redis_pool)
        finally:
            relay.cancel()
            await asyncio.gather(relay, return_exceptions=True)
            await pool.aclose()
            await proxy.cut()
        assert (await only_job())["status"] == JobStatus.DONE
        [message] = smtp.handler.messages
        assert message["To"] == world.tenant.pilot.email
        assert "/mot-de-passe/" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    async def test_relay_reports_redis_errors_and_keeps_the_row(
        self, world: World, redis_pool: ArqRedis
    ) -> None:
        proxy = TcpProxy(REDIS_PORT)
        await proxy.start()
        pool = await create_pool(RedisSettings(host="127.0.0.1", port=proxy.port))
        await proxy.cut()
        await jobs.enqueue("auth.send_password_reset", {"token_id": "x"})
        try:
            with pytest.raises(jobs.QueueUnavailable):
                await jobs.relay_once(pool)
        finally:
            await pool.aclose()
        assert (await only_job())["status"] == JobStatus.PENDING


async def _status_is(status: JobStatus) -> bool:
    return bool((await only_job())["status"] == status)


async def _in_redis(redis: ArqRedis) -> bool:
    job = await only_job()
    if job["status"] != JobStatus.QUEUED or not job["queued_as"]:
        return False
    return bool(await redis.exists(job_key_prefix + job["queued_as"]))


class TestSmtpDown:
    async def test_job_waits_for_the_server_and_the_message_arrives_once_it_is_up(
        self,
        client: httpx.AsyncClient,
        world: World,
        smtp: SmtpServer,
        redis_pool: ArqRedis,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        smtp.stop()
        await ask_reset(client, world)
        assert await jobs.relay_once(redis_pool) == 1
        await run_worker(redis_pool)
        job = await only_job()
        # An outage: retried soon, and not counted as a failed attempt.
        assert job["status"] == JobStatus.PENDING and job["attempts"] == 0
        assert "Envoi du message impossible" in job["last_error"]
        delay = (job["run_after"] - dt.datetime.now(dt.UTC)).total_seconds()
        assert 0 < delay <= 30 * 1.2

        smtp.start()
        assert await jobs.relay_once(redis_pool) == 0  # not due yet
        later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=37)
        monkeypatch.setattr(portal_clock, "now", lambda: later)
        assert await jobs.relay_once(redis_pool) == 1
        await run_worker(redis_pool)
        assert (await only_job())["status"] == JobStatus.DONE
        assert len(smtp.handler.messages) == 1

    async def test_an_outage_of_any_length_never_gives_the_job_up(
        self,
        client: httpx.AsyncClient,
        world: World,
        smtp: SmtpServer,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        smtp.stop()
        await notify_worker(world)  # hours of outage: a reset link would have expired
        await exhaust_retries(monkeypatch)
        await exhaust_retries(monkeypatch)
        job = await only_job()
        assert job["status"] == JobStatus.PENDING and job["attempts"] == 0
        assert await jobs.failed_jobs() == []

    async def test_a_message_refused_for_good_exhausts_the_retries(
        self,
        client: httpx.AsyncClient,
        world: World,
        smtp: SmtpServer,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        smtp.handler.reject = True
        await notify_worker(world)
        await exhaust_retries(monkeypatch)
        job = await only_job()
        assert job["status"] == JobStatus.FAILED and job["attempts"] == 5
        assert "refusé" in job["last_error"]
        assert [j["id"] for j in await jobs.failed_jobs()] == [job["id"]]


class TestWorkerKilled:
    async def test_job_runs_again_and_the_mail_is_delivered_exactly_once(
        self, client: httpx.AsyncClient, world: World, smtp: SmtpServer, redis_pool: ArqRedis
    ) -> None:
        env = {
            **os.environ,
            "PORTAL_REDIS_URL": REDIS_URL,
            "PORTAL_SMTP_URL": smtp.url,
            # The killed worker's lease: its job runs again once it expires.
            "PORTAL_JOB_LEASE": "3",
        }
        command = [sys.executable, "-m", "portal.cli", "worker"]
        smtp.handler.hold = True  # the first delivery stalls inside the SMTP transaction
        await ask_reset(client, world)

        first = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            arrived = await asyncio.to_thread(smtp.handler.arrived.wait, 30)
            assert arrived, "the first worker never reached the SMTP server"
            first.kill()  # SIGKILL in the middle of the job
            first.wait(timeout=10)
        finally:
            if first.poll() is None:
                first.kill()
        smtp.handler.release()
        assert (await only_job())["status"] == JobStatus.RUNNING

        second = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            await wait_for(lambda: _status_is(JobStatus.DONE), seconds=30)
            await asyncio.sleep(1)
        finally:
            second.terminate()
            second.wait(timeout=15)
        assert len(smtp.handler.messages) == 1
        assert (await only_job())["attempts"] == 2


class TestFailedJobsPage:
    async def test_admin_sees_the_error_and_retries(
        self,
        client: httpx.AsyncClient,
        world: World,
        smtp: SmtpServer,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        from tests.conftest import csrf_token, login

        smtp.handler.reject = True
        await notify_worker(world)
        await exhaust_retries(monkeypatch)
        job = await only_job()
        await login(client, world.admin.email)
        page = await client.get("/admin/taches")
        assert "notifications.send_email" in page.text and "Message refusé" in page.text
        token = await csrf_token(client, "/admin/taches")
        response = await client.post(
            f"/admin/taches/{job['id']}/relance", data={"csrf_token": token}
        )
        assert response.status_code == 303
        smtp.handler.reject = False
        await jobs.run_due(HANDLERS)
        assert (await only_job())["status"] == JobStatus.DONE
        assert len(smtp.handler.messages) == 1

    async def test_not_for_other_people(self, client: httpx.AsyncClient, world: World) -> None:
        from tests.conftest import login

        assert (await client.get("/admin/taches")).status_code == 303
        await login(client, world.tenant.pilot.email)
        assert (await client.get("/admin/taches")).status_code == 404


class TestHealth:
    async def test_healthz_reports_the_queue(self, client: httpx.AsyncClient, world: World) -> None:
        await jobs.enqueue("auth.send_password_reset", {"token_id": "x"})
        body = (await client.get("/healthz")).json()
        queue = body["checks"]["queue"]
        assert queue["mode"] == "in-process" and queue["backlog"] == 1
        assert queue["oldest_pending_seconds"] is not None

    async def test_unreachable_redis_is_degraded_not_down(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        from tests.services import setting

        with setting("redis_url", "redis://127.0.0.1:1/0"):
            response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["status"] == "degraded"
        assert response.json()["checks"]["redis"]["state"] == "error"

    async def test_reachable_redis_is_ok(
        self, client: httpx.AsyncClient, redis_pool: ArqRedis
    ) -> None:
        from tests.services import setting

        with setting("redis_url", REDIS_URL):
            body = (await client.get("/healthz")).json()
        assert body["checks"]["redis"]["state"] == "ok"
        assert body["checks"]["queue"]["mode"] == "redis"
