"""No demo household's name, nor its private diagnostic, in the database file, a dump of the
PostgreSQL database, or the application's logs: the demo is loaded by `portal demo` (its own
process, its own database) and browsed with every log at DEBUG."""

from __future__ import annotations

import logging
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from portal.households.demo import ERASED, NAMES, PRIVATE_HEALTH, SYNTHESIS
from tests.conftest import OWNER_URL, login
from tests.test_cli import run_portal

SECRETS = [*NAMES, ERASED, PRIVATE_HEALTH, SYNTHESIS]


def _found(data: bytes) -> list[str]:
    return [s for s in SECRETS if s.encode() in data]


@pytest.mark.sqlite_only
def test_the_sqlite_file_and_the_demos_logs_hold_no_name(tmp_path: Path) -> None:
    done = run_portal(["demo"], tmp_path, PORTAL_LOG_LEVEL="DEBUG")
    assert done.returncode == 0, done.stderr
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "portal.sqlite3" for p in files)
    assert any("households" in str(p) for p in files)  # the consents' scans
    for path in files:
        assert _found(path.read_bytes()) == [], path
    assert _found((done.stdout + done.stderr).encode()) == []


@pytest.mark.postgres_only
def test_a_pg_dump_holds_no_name(tmp_path: Path) -> None:
    import asyncio

    import asyncpg

    name = f"portal_leak_{uuid.uuid4().hex[:8]}"
    admin_url = OWNER_URL.rsplit("/", 1)[0] + "/postgres"
    url = OWNER_URL.rsplit("/", 1)[0] + "/" + name

    async def admin(sql: str) -> None:
        connection = await asyncpg.connect(admin_url)
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        done = run_portal(["demo"], tmp_path, PORTAL_DATABASE_URL=url, PORTAL_LOG_LEVEL="DEBUG")
        assert done.returncode == 0, done.stderr
        dump = subprocess.run(
            ["pg_dump", "--data-only", url], capture_output=True, timeout=120, check=True
        ).stdout
        assert b"households_identity" in dump and b"M-20" in dump
        assert _found(dump) == []
        assert _found((done.stdout + done.stderr).encode()) == []
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_browsing_the_demo_logs_no_name(
    make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from portal import demo
    from portal.households import repository
    from portal.tenants import repository as tenants

    accounts = await demo.load()
    slug = demo.CONSORTIA[0].slug
    consortium = await tenants.consortium_by_slug(slug)
    assert consortium is not None
    from tests.conftest import _scope_of

    rows = await repository.listing(
        _scope_of(consortium["id"]), association=None, lessor=None, filters={}, limit=40, offset=0
    )
    caplog.set_level(logging.DEBUG)
    for email, password, _role, space in accounts:
        if space != slug:
            continue
        client = make_client()
        await login(client, email, password)
        await client.get(f"/c/{slug}/menages")
        await client.get(f"/c/{slug}/menages/registre")
        await client.get(f"/c/{slug}/menages/alertes")
        for row in rows[:12]:
            for tab in ("", "/diagnostic", "/alertes", "/consentements", "/journal"):
                await client.get(f"/c/{slug}/menages/{row['id']}{tab}")
        await client.post(f"/c/{slug}/menages", data={"name": NAMES[0]})  # no CSRF: refused
    logged = "\n".join(r.getMessage() + repr(r.args) for r in caplog.records)
    assert len(caplog.records) > 100
    assert _found(logged.encode()) == []
