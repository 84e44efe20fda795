"""The `portal` command, run as a user would, on a fresh embedded data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def run_portal(args: list[str], data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """None of the suite's settings but the cheap password hashing: the demo hashes a dozen
    passwords, seconds of argon2 at the production cost (`.ci/smoke` runs it that way)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    clean.update(PORTAL_DATA_DIR=str(data_dir), PORTAL_PASSWORD_HASHING="fast", **env)
    return subprocess.run(
        [sys.executable, "-m", "portal.cli", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class TestDemo:
    def test_prints_one_line_per_account_and_is_idempotent(self, tmp_path: Path) -> None:
        first = run_portal(["demo"], tmp_path)
        assert first.returncode == 0, first.stderr
        lines = first.stdout.strip().splitlines()
        rows = [line.split(" ") for line in lines]
        assert all(len(row) == 4 for row in rows)
        roles = {row[2] for row in rows}
        assert {"pilot", "association_staff", "state_agent"} <= roles
        slugs = {row[3] for row in rows} - {"-"}
        assert len(slugs) == 2
        # Someone belongs to the second consortium only.
        by_email: dict[str, set[str]] = {}
        for email, _, _, slug in rows:
            by_email.setdefault(email, set()).add(slug)
        assert any(len(s) == 1 and "-" not in s for s in by_email.values())
        first_slug = rows[1][3]
        assert any(s == slugs - {first_slug} for s in by_email.values())
        again = run_portal(["demo"], tmp_path)
        assert again.returncode == 0
        assert again.stdout == first.stdout
        assert (tmp_path / "portal.sqlite3").exists()

    def test_create_admin(self, tmp_path: Path) -> None:
        done = run_portal(
            ["create-admin", "chef@plateforme.fr"],
            tmp_path,
            PORTAL_ADMIN_PASSWORD="une phrase bien longue",
        )
        assert done.returncode == 0, done.stderr
        short = run_portal(
            ["create-admin", "chef@plateforme.fr"], tmp_path, PORTAL_ADMIN_PASSWORD="court"
        )
        assert short.returncode == 2
        assert "au moins 12 caractères" in short.stderr

    @pytest.mark.parametrize("command", ["serve", "migrate", "demo"])
    def test_production_without_secret_refuses_to_start(self, tmp_path: Path, command: str) -> None:
        done = run_portal(
            [command], tmp_path, PORTAL_ENV="production", PORTAL_DATABASE_URL="postgresql://x/y"
        )
        assert done.returncode == 2
        assert "PORTAL_SECRET_KEY est obligatoire" in done.stderr


class TestDemoChecksFirst:
    def test_with_s3_and_no_bucket_it_makes_the_bucket_and_loads(
        self, tmp_path: Path, s3_server: str
    ) -> None:
        from minio import Minio

        bucket = f"demo-{tmp_path.name.lower().replace('_', '-')[-40:]}"
        done = run_portal(
            ["demo"], tmp_path, PORTAL_STORAGE_URL=f"s3://testing:testing@{s3_server}/{bucket}"
        )
        assert done.returncode == 0, done.stderr
        direct = Minio(s3_server, "testing", "testing", secure=False, region="us-east-1")
        assert direct.bucket_exists(bucket)
        assert list(direct.list_objects(bucket, recursive=True))  # the frozen PDFs

    def test_with_storage_down_it_says_so_and_loads_nothing(self, tmp_path: Path) -> None:
        import sqlite3

        done = run_portal(["demo"], tmp_path, PORTAL_STORAGE_URL="s3://k:s@127.0.0.1:1/bucket")
        assert done.returncode == 3
        assert "stockage des documents ne répond pas" in done.stderr
        assert "rien n'a été chargé" in done.stderr
        assert done.stdout == ""
        database = tmp_path / "portal.sqlite3"
        if database.exists():
            tables = sqlite3.connect(database).execute(
                "SELECT name FROM sqlite_master WHERE name = 'tenants_consortium'"
            )
            assert tables.fetchall() == []


class TestWorker:
    def test_worker_without_redis_says_so(self, tmp_path: Path) -> None:
        done = run_portal(["worker"], tmp_path)
        assert done.returncode == 2
        assert "PORTAL_REDIS_URL n'est pas configuré" in done.stderr


class TestServeOnAnInheritedSocket:
    def test_two_workers_serve_on_the_socket_they_were_given(self, tmp_path: Path) -> None:
        """As a process manager's socket activation does it (and the tests, so that no port is
        ever free between its choice and its use): `--fd` and a socket already listening."""
        import httpx

        from tests.services import portal_server

        clean = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
        with portal_server("--workers", "2", base_env=clean, PORTAL_DATA_DIR=str(tmp_path)) as url:
            assert httpx.get(f"{url}/healthz").status_code == 200
