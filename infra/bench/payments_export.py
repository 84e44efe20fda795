"""Benchmark of the payment-tracking export (not a test): 200,000 lines exported by the portal
(`exports.write_to`: piccolo query through a database cursor, French formatting, CSV or XLSX
written off the event loop), next to a plain SQL query writing the same rows to CSV with the
driver alone. Each measure runs in a process of its own, which reports its time and its peak
memory (peak RSS, and its growth over the process's size before the export started).

    .venv/bin/python infra/bench/payments_export.py              # SQLite in a temporary folder
    PORTAL_BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1/portal_bench \\
        .venv/bin/python infra/bench/payments_export.py          # PostgreSQL (dropped, created)
    PORTAL_BENCH_LINES=200000 by default
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

LINES = int(os.environ.get("PORTAL_BENCH_LINES", "200000"))
PER_SCHEDULE = 200
HERE = Path(__file__).resolve()

PLAIN_SQL = """
SELECT c.reference, s.payer_name, o.name, o.siret, l.number, l.amount_cents, l.paid_cents,
       l.expected_on, l.last_paid_on, l.status, l.payment_references
FROM payments_line l
JOIN payments_schedule s ON s.id = l.schedule
JOIN conventions_convention c ON c.id = s.convention
JOIN tenants_organisation o ON o.id = s.beneficiary
WHERE l.consortium = {param}
ORDER BY c.reference, s.kind DESC, o.name, s.id, l.number
"""
STATUS_LABELS = {"due": "Exigible", "partial": "Versé en partie", "paid": "Versé"}
COLUMNS = (
    "consortium", "convention", "payer", "beneficiary", "siret", "number", "amount_due",
    "amount_paid", "due_on", "paid_on", "status", "reference",
)  # fmt: skip


def rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def report(label: str, rows: int, seconds: float, before_kib: int, path: Path) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(
        json.dumps(
            {
                "label": label,
                "rows": rows,
                "seconds": round(seconds, 3),
                "rows_per_second": round(rows / seconds),
                "peak_rss_mib": round(peak / 1024, 1),
                "growth_mib": round((peak - before_kib) / 1024, 1),
                "file_mib": round(path.stat().st_size / 1024 / 1024, 1),
            }
        )
    )


# Building the data ---------------------------------------------------------------------------


async def prepare() -> str:
    """A consortium with two signed conventions, 1 000 schedules and LINES lines, half of them
    paid (partly or fully) with references. Returns the consortium id."""
    from portal.conventions import repository as conventions
    from portal.core import db
    from portal.core.tenancy import TenantScope
    from portal.payments.tables import Line, Schedule
    from portal.tenants import repository as tenants

    await db.migrate()
    await db.start()
    consortium = await tenants.insert_consortium("Banc d'essai", "banc", "fnavdl", ["69"], "active")
    scope = TenantScope.for_platform(consortium, reason="the benchmark seeds its consortium")
    lessor = await tenants.insert_organisation(
        "Bailleur Rhône Habitat", "73282932000074", ["lessor"], "Lyon"
    )
    associations = [
        await tenants.insert_organisation(
            f"Association n° {n} – Élan", f"4430618410{n:04d}", ["association"], "Lyon"
        )
        for n in range(20)
    ]
    conventions_ids = []
    for kind, reference in (("state", "CE-2026-001"), ("partnership", "CP-2026-001")):
        conventions_ids.append(
            await conventions.insert_convention(
                scope,
                {
                    "kind": kind,
                    "origin": "initial",
                    "reference": reference,
                    "title": reference,
                    "status": "signed",
                    "starts_on": dt.date(2026, 1, 1),
                    "duration_months": 24,
                },
            )
        )
    now = dt.datetime.now(dt.UTC)
    schedules = []
    for n in range(LINES // PER_SCHEDULE):
        repayment = n % 2 == 1
        schedules.append(
            Schedule(
                id=uuid.uuid4(),
                consortium=consortium,
                convention=conventions_ids[1 if repayment else 0],
                kind="repayment" if repayment else "subsidy",
                label=f"Échéancier {n}",
                funder="state_fund",
                payer_organisation=lessor if repayment else None,
                payer_name="Bailleur Rhône Habitat" if repayment else "CGLLS",
                beneficiary=associations[n % 20] if repayment else lessor,
                basis="fixed",
                total_cents=PER_SCHEDULE * 123_456,
            )
        )
    for start in range(0, len(schedules), 500):
        await Schedule.insert(*schedules[start : start + 500])
    batch: list[Line] = []
    for s in schedules:
        for number in range(1, PER_SCHEDULE + 1):
            paid = 123_456 if number % 2 else (61_728 if number % 4 == 0 else 0)
            batch.append(
                Line(
                    consortium=consortium,
                    schedule=s.id,
                    number=number,
                    label=f"Échéance {number}",
                    amount_cents=123_456,
                    expected_on=dt.date(2026, 1, 1) + dt.timedelta(days=number),
                    trigger="date",
                    status="paid" if paid == 123_456 else ("partial" if paid else "due"),
                    status_since=now,
                    met_at=now,
                    paid_cents=paid,
                    last_paid_on=dt.date(2026, 6, 1) if paid else None,
                    payment_references=f"VIR-{number:06d}" if paid else "",
                )
            )
            if len(batch) == 1_000:
                await Line.insert(*batch)
                batch = []
    if batch:
        await Line.insert(*batch)
    await db.stop()
    return str(consortium)


# The measures (each in its own process) -------------------------------------------------------


async def portal_export(consortium: str, fmt: str, out: Path) -> None:
    from portal.core import db
    from portal.core.tenancy import TenantScope
    from portal.payments import exports
    from portal.payments.access import Sight
    from portal.payments.enums import ExportFormat
    from portal.payments.repository import LineFilter

    await db.start()
    chosen = [exports.Chosen(k, exports.BY_KEY[k].label) for k in COLUMNS]
    before = rss_kib()
    started = time.perf_counter()
    rows = await exports.write_to(
        TenantScope.for_platform(uuid.UUID(consortium), reason="the benchmark exports"),
        Sight(everything=True),
        LineFilter(),
        ExportFormat(fmt),
        chosen,
        out,
    )
    report(f"portal {fmt}", rows, time.perf_counter() - started, before, out)
    await db.stop()


def _money(cents: int | None) -> str:
    return "" if cents is None else f"{cents // 100},{cents % 100:02d}"


def _day(value: object) -> str:
    if value is None:
        return ""
    day = value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    return f"{day:%d/%m/%Y}"


async def plain_export(consortium: str, url: str, out: Path) -> None:
    """The same rows, the driver alone: one query, a cursor, csv.writer."""
    before = rss_kib()
    started = time.perf_counter()
    rows = 0
    with out.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(COLUMNS)

        def write(r: tuple) -> None:  # type: ignore[type-arg]
            writer.writerow(
                [
                    "Banc d'essai",
                    r[0],
                    r[1],
                    r[2],
                    r[3],
                    r[4],
                    _money(r[5]),
                    _money(r[6]),
                    _day(r[7]),
                    _day(r[8]),
                    STATUS_LABELS[r[9]],
                    r[10],
                ]
            )

        if url.startswith("postgres"):
            import asyncpg

            connection = await asyncpg.connect(url)
            async with connection.transaction():
                async for record in connection.cursor(
                    PLAIN_SQL.format(param="$1"), uuid.UUID(consortium), prefetch=2_000
                ):
                    write(tuple(record))
                    rows += 1
            await connection.close()
        else:
            import aiosqlite

            async with aiosqlite.connect(url.removeprefix("sqlite:///")) as connection:
                cursor = await connection.execute(PLAIN_SQL.format(param="?"), (consortium,))
                while batch := await cursor.fetchmany(2_000):
                    for record in batch:
                        write(tuple(record))
                    rows += len(batch)
    report("plain query + csv", rows, time.perf_counter() - started, before, out)


def main() -> None:
    if len(sys.argv) > 1:  # a measure, in its own process
        what, consortium, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
        if what == "plain":
            asyncio.run(plain_export(consortium, os.environ["PORTAL_DATABASE_URL"], out))
        else:
            asyncio.run(portal_export(consortium, what, out))
        return
    work = Path(tempfile.mkdtemp(prefix="portal-bench-export-"))
    url = os.environ.get("PORTAL_BENCH_DATABASE_URL") or f"sqlite:///{work / 'bench.sqlite3'}"
    if url.startswith("postgres"):
        import asyncpg

        async def recreate() -> None:
            name = url.rsplit("/", 1)[1]
            admin = await asyncpg.connect(url.rsplit("/", 1)[0] + "/postgres")
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await admin.execute(f'CREATE DATABASE "{name}"')
            await admin.close()

        asyncio.run(recreate())
    env = {**os.environ, "PORTAL_DATABASE_URL": url, "PORTAL_DATA_DIR": str(work / "data")}
    started = time.perf_counter()
    consortium = (
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"import asyncio, sys; sys.path.insert(0, {str(HERE.parent)!r}); "
                "import payments_export as b; print(asyncio.run(b.prepare()))",
            ],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    print(f"{LINES} lines prepared in {time.perf_counter() - started:.0f} s on {url.split(':')[0]}")
    for what in ("plain", "csv", "xlsx"):
        result = subprocess.run(
            [sys.executable, str(HERE), what, consortium, str(work / f"export-{what}")],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        print(result.stdout.strip())


if __name__ == "__main__":
    main()
