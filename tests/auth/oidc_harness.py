"""Starts the test OpenID Connect provider (`tests/auth/oidc_provider`, npm `oidc-provider`) and
walks through its login and consent pages as a person would, with a separate cookie jar."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import httpx

PROVIDER_DIR = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID = "portal-test"
CLIENT_SECRET = "portal-test-secret-0123456789"


@dataclass(frozen=True)
class OidcProvider:
    issuer: str
    process: subprocess.Popen[str]


@contextlib.contextmanager
def start_oidc_provider(redirect_uris: list[str], sock: socket.socket) -> Iterator[OidcProvider]:
    """The provider, serving on `sock` (listening, kept by the caller)."""
    if not (PROVIDER_DIR / "node_modules" / "oidc-provider").exists():
        raise RuntimeError(f"oidc-provider is not installed: run `npm ci --prefix {PROVIDER_DIR}`")
    env = {
        **os.environ,
        "OIDC_PORT": str(sock.getsockname()[1]),
        "OIDC_FD": str(sock.fileno()),
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OIDC_REDIRECT_URIS": ",".join(redirect_uris),
    }
    process = subprocess.Popen(
        ["node", str(PROVIDER_DIR / "provider.mjs")],
        env=env,
        pass_fds=(sock.fileno(),),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        assert process.stdout is not None
        line = ""
        while time.monotonic() < deadline and process.poll() is None:
            line = process.stdout.readline()
            if line.startswith("READY "):
                break
        if not line.startswith("READY "):
            process.kill()
            stderr = process.stderr.read() if process.stderr else ""
            raise RuntimeError(f"the OIDC provider did not start:\n{stderr}")
        yield OidcProvider(issuer=line.split()[1], process=process)
    finally:
        process.terminate()
        process.wait(timeout=10)


FORM_ACTION = re.compile(r'<form[^>]*action="([^"]+)"')


async def complete_provider_login(authorize_url: str, login: str) -> str:
    """Loads the provider's pages from `authorize_url`, signs in as `login`, consents, and returns
    the URL the provider finally redirects to (the portal's callback, with code and state)."""
    issuer = authorize_url.split("/auth")[0]
    async with httpx.AsyncClient(timeout=10) as browser:
        url = authorize_url
        for _ in range(12):
            response = await browser.get(url)
            if response.is_redirect:
                location = urljoin(url, response.headers["location"])
                if not location.startswith(issuer):
                    return location
                url = location
                continue
            action = FORM_ACTION.search(response.text)
            assert action, f"no form on the provider page {url}: {response.text[:500]}"
            prompt = "login" if 'name="login"' in response.text else "consent"
            data = {"prompt": prompt}
            if prompt == "login":
                data.update(login=login, password="any")
            submitted = await browser.post(urljoin(url, action.group(1)), data=data)
            assert submitted.is_redirect, submitted.text[:500]
            url = urljoin(url, submitted.headers["location"])
            if not url.startswith(issuer):
                return url
    raise AssertionError("the provider never redirected back to the portal")
