"""A bounded mixed load on the portal's web processes, as its users make it: password resets and
invitations (access e-mails), comments that mention a colleague (notification e-mails), uploads
of justificatifs (objects and rows) and payment exports (jobs that store a file). Requests go to
each web process in turn; every answer is recorded with its status (or the error's name)."""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
from pypdf import PdfWriter

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
TIMEOUT = httpx.Timeout(20.0, connect=5.0)


@dataclass(frozen=True)
class Target:
    """What the demo data offers the load (read from the database by the suite)."""

    slug: str
    password: str
    pilot: str
    association_worker: str
    finance: str
    resettable: tuple[str, ...]
    organisation_id: str  # where invited people would work
    items: tuple[str, ...]  # document items the association worker may upload to
    convention_id: str
    article_id: str
    mention: str  # the handle mentioned in comments


@dataclass
class Record:
    at: float
    kind: str
    web: int
    outcome: str  # "303", "503", "ConnectError"…


@dataclass
class Load:
    webs: list[str]
    target: Target
    records: list[Record] = field(default_factory=list)
    _counter: itertools.count[int] = field(default_factory=itertools.count)
    _clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    async def open(self) -> None:
        for who in (self.target.pilot, self.target.association_worker, self.target.finance):
            client = httpx.AsyncClient(timeout=TIMEOUT)
            self._clients[who] = client
            page = await client.get(f"{self.webs[0]}/login")
            token = _token(page.text)
            answer = await client.post(
                f"{self.webs[0]}/login",
                data={"csrf_token": token, "email": who, "password": self.target.password},
            )
            assert answer.status_code == 303, f"login of {who}: {answer.status_code}"
        self._clients["anonymous"] = httpx.AsyncClient(timeout=TIMEOUT)

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()

    def by_kind(self, since: float = 0.0) -> Counter[str]:
        return Counter(f"{r.kind} {r.outcome}" for r in self.records if r.at >= since)

    def outcomes(self, since: float = 0.0, until: float = float("inf")) -> Counter[str]:
        return Counter(r.outcome for r in self.records if since <= r.at < until)

    async def run(self, stop: asyncio.Event, per_second: float = 4.0) -> None:
        """Until `stop`: one operation every 1/per_second seconds, each in its own task so a
        hung server does not slow the others down (bounded by the client timeouts)."""
        kinds = itertools.cycle(["reset", "upload", "mention", "invite", "upload", "export"])
        running: set[asyncio.Task[None]] = set()
        while not stop.is_set():
            task = asyncio.create_task(self.one(next(kinds)))
            running.add(task)
            task.add_done_callback(running.discard)
            try:
                await asyncio.wait_for(stop.wait(), timeout=1 / per_second)
            except TimeoutError:
                pass
        if running:
            await asyncio.wait(running)

    async def one(self, kind: str) -> None:
        n = next(self._counter)
        web = n % len(self.webs)
        base = self.webs[web]
        try:
            status = await getattr(self, f"_{kind}")(base, n)
            outcome = str(status)
        except httpx.HTTPError as exc:
            outcome = type(exc).__name__
        self.records.append(Record(time.monotonic(), kind, web, outcome))

    async def _post(
        self, who: str, base: str, path: str, data: dict[str, str], files: object = None
    ) -> int:
        client = self._clients[who]
        token = self._tokens.get(who)
        if token is None:
            page = await client.get(
                f"{base}{'/mot-de-passe/oublie' if who == 'anonymous' else '/'}"
            )
            if page.status_code != 200:
                return page.status_code
            token = self._tokens[who] = _token(page.text)
        answer = await client.post(
            f"{base}{path}",
            data={"csrf_token": token, **data},
            files=files,  # type: ignore[arg-type]
        )
        if answer.status_code == 403:
            self._tokens.pop(who, None)
        return answer.status_code

    async def _reset(self, base: str, n: int) -> int:
        email = self.target.resettable[n % len(self.target.resettable)]
        return await self._post("anonymous", base, "/mot-de-passe/oublie", {"email": email})

    async def _invite(self, base: str, n: int) -> int:
        return await self._post(
            self.target.pilot,
            base,
            f"/c/{self.target.slug}/invitations",
            {
                "email": f"invite-{n}-{uuid.uuid4().hex[:6]}@faults.example.org",
                "organisation": self.target.organisation_id,
                "role": "association_staff",
            },
        )

    async def _mention(self, base: str, n: int) -> int:
        t = self.target
        return await self._post(
            t.pilot,
            base,
            f"/c/{t.slug}/conventions/{t.convention_id}/articles/{t.article_id}/commentaires",
            {"body": f"Point {n} à relire, @{t.mention}."},
        )

    async def _upload(self, base: str, n: int) -> int:
        t = self.target
        item = t.items[n % len(t.items)]
        return await self._post(
            t.association_worker,
            base,
            f"/c/{t.slug}/pieces/{item}/versions",
            {},
            files={"file": (f"rapport-{n}.pdf", unique_pdf(n), "application/pdf")},
        )

    async def _export(self, base: str, n: int) -> int:
        return await self._post(
            self.target.finance,
            base,
            f"/c/{self.target.slug}/versements/exports",
            {"action": "export", "format": "csv", "col-beneficiary": "on", "col-label": "on"},
        )


def unique_pdf(n: int, pages: int = 1) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=595, height=842)
    writer.add_metadata({"/Title": f"Rapport {n} {uuid.uuid4()}"})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _token(page: str) -> str:
    found = CSRF.search(page)
    assert found, "no CSRF token on the page"
    return found.group(1)
