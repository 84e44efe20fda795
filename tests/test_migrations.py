"""Migrations and tables do not drift, and every migration goes backwards: forwards, backwards
to the start (one migration at a time, each giving back the schema its forward step found, then
every app at once), forwards again builds the same schema. On the suite's engine, in a database
of the test's own (`tests/migration_probe.py`, run in a process of its own), never the suite's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ON_POSTGRES, OWNER_URL

ROOT = Path(__file__).resolve().parents[1]
MIGRATIONS = sorted(ROOT.glob("portal/*/piccolo_migrations/[!_]*.py"))
# Migrations written in SQL: piccolo runs it as it is, and cannot reverse it by itself.
# `consortium_keys` (core.migration_sql) adds both steps of the keys and indexes it creates.
SQL_STEPS = ("add_raw(", "consortium_keys(")
HAND_WRITTEN = {
    p.name: text
    for p in MIGRATIONS
    if any(step in (text := p.read_text(encoding="utf-8")) for step in SQL_STEPS)
}
Report = dict[str, Any]


def own_database_url(folder: Path) -> str:
    if not ON_POSTGRES:
        return f"sqlite:///{folder / 'migrations.sqlite3'}"
    base, _, rest = OWNER_URL.rpartition("/")  # the superuser, who may create a database
    name, _, query = rest.partition("?")
    return f"{base}/{name}_migrations" + (f"?{query}" if query else "")


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    folder = tmp_path_factory.mktemp("migrations")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(
        PORTAL_ENV="development",
        PORTAL_DATA_DIR=str(folder / "data"),
        PORTAL_DATABASE_URL=own_database_url(folder),
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.migration_probe", str(folder / "report.json")],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,  # a prompt of piccolo's fails instead of waiting
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-6000:]
    result: Report = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert result["engine"] == ("postgres" if ON_POSTGRES else "sqlite")
    return result


def columns_by_table(schema: Report) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for row in map(json.loads, schema["columns"]):
        found.setdefault(row["t"], []).append(row["c"])
    return {table: sorted(columns) for table, columns in found.items()}


class TestDrift:
    def test_the_autogenerator_has_nothing_to_write_for_any_app(self, report: Report) -> None:
        from piccolo.conf.apps import Finder

        assert set(report["drift"]) == set(Finder().get_app_registry().app_configs)
        assert {app: lines for app, lines in report["drift"].items() if lines} == {}

    def test_the_migrated_tables_are_the_declared_ones(self, report: Report) -> None:
        migrated = columns_by_table(report["forwards"])
        assert migrated.pop("migration")  # piccolo's record of what ran
        assert migrated == report["declared"]


class TestRoundTrip:
    def test_backwards_undoes_every_migration_of_every_app(self, report: Report) -> None:
        after = report["backwards"]
        assert after["tables"] == ["migration"]
        assert after["triggers"] == []
        assert after["functions"] == report["start"]["functions"]
        assert report["recorded_after_backwards"] == []

    def test_each_backward_step_gives_back_the_schema_its_forward_step_found(
        self, report: Report
    ) -> None:
        assert report["one_by_one"] == {}
        assert report["after_one_by_one"] == report["forwards"]

    def test_forwards_again_builds_the_same_schema(self, report: Report) -> None:
        first, again = report["forwards"], report["forwards_again"]
        for part in first:
            assert again[part] == first[part], part
        assert len(first["tables"]) > 40
        if ON_POSTGRES:  # the append-only and immutable rows' triggers came back
            assert len(first["triggers"]) >= 10


class TestHandWrittenMigrations:
    def test_each_has_a_backward_step(self) -> None:
        assert len(HAND_WRITTEN) >= 11
        assert [
            n
            for n, text in HAND_WRITTEN.items()
            if "add_raw_backwards(" not in text and "consortium_keys(" not in text
        ] == []

    def test_their_sql_may_run_twice(self, report: Report) -> None:
        assert len(report["rerun"]) == len(HAND_WRITTEN)
        assert report["after_rerun"] == report["forwards"]

    def test_a_second_run_does_not_share_again_a_model_made_private(self, report: Report) -> None:
        assert report["private_model_after_rerun"] is False

    def test_no_two_migrations_share_an_id(self) -> None:
        # piccolo's backwards deletes a migration's record by ID alone, whatever its app.
        ids = [re.findall(r'^ID = "([^"]+)"$', p.read_text("utf-8"), re.M) for p in MIGRATIONS]
        assert all(len(found) == 1 for found in ids)
        flat = [found[0] for found in ids]
        assert sorted({i for i in flat if flat.count(i) > 1}) == []

    def test_a_database_recording_ids_renamed_since_runs_nothing_again(
        self, report: Report
    ) -> None:
        assert report["recorded_after_rename"] == report["recorded"]
        assert report["after_rename"] == report["forwards"]
