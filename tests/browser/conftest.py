"""A real portal process on a free port, and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import listening_socket, port_of

CHROMIUM = os.environ.get("PORTAL_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@contextlib.contextmanager
def portal_server(**env: str) -> Iterator[str]:
    """`portal serve` on a free port, with these settings on top of the tests' own."""
    listening = listening_socket()  # kept until the server is gone: the port is never free
    url = f"http://127.0.0.1:{port_of(listening)}"
    process = subprocess.Popen(
        [sys.executable, "-m", "portal.cli", "serve", "--fd", str(listening.fileno())],
        pass_fds=(listening.fileno(),),
        env={**os.environ, "PORTAL_BASE_URL": url, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    # A loaded machine (CI runs both engines side by side) may take long to start it: this waits
    # on its health, it measures nothing.
    deadline = time.monotonic() + 120
    last = "no answer"
    # One client for the whole wait: each `httpx.get` built a client, and its TLS context
    # (20 ms of CPU), five times a second.
    with httpx.Client(timeout=2) as poller:
        while time.monotonic() < deadline:
            try:
                health = poller.get(f"{url}/healthz")
                if health.status_code == 200:
                    break
                last = f"{health.status_code} {health.text[:300]}"
            except httpx.TransportError:
                pass
            time.sleep(0.2)
            if process.poll() is not None:
                raise RuntimeError(
                    f"portal serve stopped:\n{process.stdout.read() if process.stdout else ''}"
                )
        else:
            process.kill()
            raise RuntimeError(f"portal serve was not healthy within 120 s: {last}")
    try:
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)
        listening.close()


@pytest.fixture(scope="module")
def live_server() -> Iterator[str]:
    """Module-scoped: the server also runs outbox jobs of the shared database (embedded
    default), which must not happen behind the back of other tests."""
    with portal_server() as url:
        yield url


@pytest.fixture
async def browser_page():  # type: ignore[no-untyped-def]
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium absent ({CHROMIUM}) : apt-get install chromium chromium-driver")
    from playwright.async_api import async_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = await browser.new_page(locale="fr-FR", viewport={"width": 1280, "height": 900})
        try:
            yield page
        finally:
            await browser.close()
