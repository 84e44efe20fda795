"""Benchmark of uploads (not a test): a 200 MB PDF uploaded through a running portal to S3
(moto's server, as in the tests), measuring the portal process's peak memory growth and the
throughput, next to a direct `minio` client upload of the same file to the same server.

    .venv/bin/python infra/bench/upload.py          # PORTAL_BENCH_MB=200 by default

It starts its own moto server and `portal serve` (embedded SQLite) in a scratch folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from minio import Minio
from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, NameObject

SIZE_MB = int(os.environ.get("PORTAL_BENCH_MB", "200"))
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(port: int) -> None:
    for _ in range(300):
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def make_pdf(path: Path) -> None:
    """SIZE_MB of page content in 2 MB streams (as a large scan would be)."""
    writer = PdfWriter()
    for _ in range(SIZE_MB // 2):
        page = writer.add_blank_page(width=595, height=842)
        stream = DecodedStreamObject()
        stream.set_data(os.urandom(2 * 1024 * 1024))
        page[NameObject("/Contents")] = writer._add_object(stream)
    with path.open("wb") as handle:
        writer.write(handle)


def peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="portal-upload-bench-"))
    pdf = work / "gros-rapport.pdf"
    make_pdf(pdf)
    size = pdf.stat().st_size
    sha = hashlib.sha256(pdf.read_bytes()).hexdigest()

    s3_port, web_port = free_port(), free_port()
    moto = subprocess.Popen(
        [sys.executable, "-c", "from moto.server import main; main()", "-H", "127.0.0.1", "-p", str(s3_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(
        PORTAL_DATA_DIR=str(work / "var"),
        PORTAL_STORAGE_URL=f"s3://bench:bench@127.0.0.1:{s3_port}/bench",
        PORTAL_UPLOAD_MAX_MB=str(SIZE_MB + 20),
        PORTAL_BASE_URL=f"http://127.0.0.1:{web_port}",
    )
    portal = [sys.executable, "-m", "portal.cli"]
    web = None
    try:
        wait_for(s3_port)
        accounts = subprocess.run(portal + ["demo"], env=env, capture_output=True, text=True, check=True).stdout
        email, password, _, slug = next(
            line.split() for line in accounts.splitlines() if line.split()[2] == "association_staff"
        )
        web = subprocess.Popen(
            portal + ["serve", "--port", str(web_port)], env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for(web_port)
        base = f"http://127.0.0.1:{web_port}"
        with httpx.Client(base_url=base, timeout=600) as client:
            token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)  # type: ignore[union-attr]
            client.post("/login", data={"csrf_token": token, "email": email, "password": password})
            # A one-off request for the association, made as the pilot would.
            database = sqlite3.connect(work / "var" / "portal.sqlite3")
            pilot_client = httpx.Client(base_url=base, timeout=60)
            pilot_email, pilot_password = next(
                (line.split()[0], line.split()[1]) for line in accounts.splitlines() if line.split()[2] == "pilot"
            )
            t = re.search(r'name="csrf_token" value="([^"]+)"', pilot_client.get("/login").text).group(1)  # type: ignore[union-attr]
            pilot_client.post("/login", data={"csrf_token": t, "email": pilot_email, "password": pilot_password})
            page = pilot_client.get(f"/c/{slug}/pieces").text
            t = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
            org = database.execute(
                "SELECT id FROM tenants_organisation WHERE name = 'Association Horizon Insertion'"
            ).fetchone()[0]
            pilot_client.post(
                f"/c/{slug}/pieces",
                data={"csrf_token": t, "organisation": org, "title": "Bilan annuel", "recurrence": "once", "due_on": "31/12/2027"},
            )
            item = database.execute("SELECT id FROM documents_item").fetchone()[0]
            page = client.get(f"/c/{slug}/pieces/{item}").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]

            before = rss_mb(web.pid)
            # Reset the kernel's peak-RSS counter so VmHWM is the peak during the upload only.
            Path(f"/proc/{web.pid}/clear_refs").write_text("5")
            before_peak = peak_rss_mb(web.pid)
            with pdf.open("rb") as handle:
                start = time.perf_counter()
                response = client.post(
                    f"/c/{slug}/pieces/{item}/versions",
                    data={"csrf_token": token},
                    files={"file": ("gros-rapport.pdf", handle, "application/pdf")},
                )
                portal_seconds = time.perf_counter() - start
            assert response.status_code == 303, response.text[:500]
            after_peak = peak_rss_mb(web.pid)
            stored_sha = database.execute("SELECT sha256 FROM documents_version").fetchone()[0]

        direct = Minio(f"127.0.0.1:{s3_port}", access_key="bench", secret_key="bench", secure=False, region="us-east-1")
        start = time.perf_counter()
        direct.fput_object("bench", "direct/gros-rapport.pdf", str(pdf), content_type="application/pdf")
        direct_seconds = time.perf_counter() - start

        mb = size / (1024 * 1024)
        print(f"file: {mb:.0f} MB PDF ({SIZE_MB // 2} pages of 2 MB), SHA-256 {'matches' if stored_sha == sha else 'DIFFERS'}")
        print(f"portal process RSS before the upload: {before:.0f} MB (peak counter reset to {before_peak:.0f} MB)")
        print(f"portal process peak RSS during the upload: {after_peak:.0f} MB")
        print(f"peak memory growth during the upload: {after_peak - before:.0f} MB")
        print(f"through the portal: {portal_seconds:.1f} s, {mb / portal_seconds:.0f} MB/s")
        print(f"direct minio client: {direct_seconds:.1f} s, {mb / direct_seconds:.0f} MB/s")
        print(f"throughput ratio portal / direct: {direct_seconds / portal_seconds:.2f}")
    finally:
        if web:
            web.terminate()
        moto.terminate()


if __name__ == "__main__":
    main()
