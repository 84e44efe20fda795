"""A frozen convention ready to send for signature, and helpers to drive the ceremony over
HTTP with the e-mails captured by the real SMTP server."""

from __future__ import annotations

import io
import re
import uuid
import zipfile
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx
import pytest

from tests.conftest import CSRF_RE, Clock, login, run_jobs
from tests.conventions.conftest import Cast, cast, create, make_ready_to_freeze, post, set_status

__all__ = ["cast"]

LINK = re.compile(r"http://testserver(/signature/[A-Za-z0-9_\-]+)")
CODE = re.compile(r"Votre code de signature : (\d{6})")


@pytest.fixture
def base_url() -> Iterator[None]:
    from tests.services import setting

    with setting("base_url", "http://testserver"):
        yield


async def frozen_convention(client: httpx.AsyncClient, cast: Cast) -> str:
    await login(client, cast.world.tenant.pilot.email)
    url = await create(client, cast)
    await make_ready_to_freeze(client, url, cast)
    assert (await set_status(client, url, "review")).status_code == 303
    assert (await set_status(client, url, "ready")).status_code == 303
    return url


def request_form(rows: list[tuple[str, str, str, str, str]], **extra: object) -> dict[str, object]:
    """The pilot's form: one row (step, role, party index, name, e-mail) per participant."""
    data: dict[str, object] = {
        "rows": len(rows),
        "expires_on": "31/12/2099",
        "reminder_days": "3, 7",
        **extra,
    }
    for n, (step, role, party, name, email) in enumerate(rows):
        data |= {
            f"p-{n}-step": step,
            f"p-{n}-role": role,
            f"p-{n}-party": party,
            f"p-{n}-name": name,
            f"p-{n}-email": email,
        }
    return data


def three_steps(cast: Cast) -> dict[str, object]:
    """Step 1 the bailleur, step 2 Association Deux, step 3 Association alpha-habitat
    (party order of the frozen PDF: 1 bailleur, 2 Association Deux, 3 Association alpha)."""
    return request_form(
        [
            ("1", "signer", "1", "Pilote Alpha", cast.world.tenant.pilot.email),
            ("2", "signer", "2", "Aide Deux", cast.association2_worker.email),
            ("3", "signer", "3", "Référente Alpha", cast.world.tenant.association_worker.email),
        ]
    )


async def send_request(client: httpx.AsyncClient, url: str, data: dict[str, object]) -> str:
    response = await post(client, f"{url}/signature", data)
    assert response.status_code == 303, response.text
    return url


def links_to(smtp, email: str) -> list[str]:  # type: ignore[no-untyped-def]
    found = []
    for message in smtp.handler.messages:
        if message["To"] == email:
            body = message.get_body(preferencelist=("plain",)).get_content()
            found += LINK.findall(body)
    return found


def last_code(smtp, email: str) -> str:  # type: ignore[no-untyped-def]
    for message in reversed(smtp.handler.messages):
        if message["To"] == email and CODE.search(str(message["Subject"])):
            return CODE.search(str(message["Subject"])).group(1)  # type: ignore[union-attr]
    raise AssertionError(f"no code sent to {email}")


SEEN = re.compile(r'name="signed" value="([^"]*)"')


async def cancel_request(
    client: httpx.AsyncClient, url: str, request_id: object, reason: str
) -> httpx.Response:
    """As the pilot cancels: the confirmation page (who already signed), then its form."""
    page = await client.get(f"{url}/signature/{request_id}/annulation")
    seen = SEEN.search(page.text)
    data = {"reason": reason, **({"signed": seen.group(1)} if seen else {})}
    return await post(client, f"{url}/signature/{request_id}/annulation", data)


async def ceremony_post(
    client: httpx.AsyncClient, link: str, action: str, data: Mapping[str, object] | None = None
) -> httpx.Response:
    page = await client.get(link)
    # A closed request's page has no form left: any page's token will do.
    token = CSRF_RE.search(page.text) or CSRF_RE.search((await client.get("/verification")).text)
    assert token, page.text[:500]
    return await client.post(
        f"{link}/{action}", data={"csrf_token": token.group(1), **(data or {})}
    )


async def sign_as(client: httpx.AsyncClient, smtp, link: str, email: str) -> httpx.Response:  # type: ignore[no-untyped-def]
    response = await ceremony_post(client, link, "code")
    assert response.status_code == 303, response.text
    code = last_code(smtp, email)
    response = await ceremony_post(
        client,
        link,
        "signer",
        {"code": code, "consent": "on", "mark_kind": "typed", "mark_text": "Lu et approuvé"},
    )
    assert response.status_code == 303, response.text
    await run_jobs()  # applies the signature, which may open the next step…
    await run_jobs()  # …whose invitations go out
    return response


@pytest.fixture
async def anonymous(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as c:
        yield c


async def request_row(url: str, cast: Cast) -> dict[str, Any]:
    """The latest signature request of the convention at `url`."""
    from portal.signing import repository

    found = await repository.requests_of(cast.world.tenant.scope, uuid.UUID(url.rsplit("/", 1)[1]))
    return found[0]


async def people(cast: Cast, request_id: uuid.UUID) -> list[dict[str, Any]]:
    from portal.signing import repository

    return await repository.participants(cast.world.tenant.scope, request_id)


async def events(cast: Cast, request_id: uuid.UUID) -> list[str]:
    from portal.signing import repository

    found = await repository.events(cast.world.tenant.scope, request_id)
    return [e["kind"] for e in found]


async def revisions(cast: Cast, request_id: uuid.UUID) -> list[dict[str, Any]]:
    from portal.signing import repository

    return await repository.revisions(cast.world.tenant.scope, request_id)


async def sent_in_three_steps(client: httpx.AsyncClient, cast: Cast) -> tuple[str, dict[str, Any]]:
    """A partnership convention frozen and sent in three steps (`three_steps`), step 1
    invited. Returns the convention's URL and its request."""
    url = await frozen_convention(client, cast)
    await send_request(client, url, three_steps(cast))
    await run_jobs()
    return url, await request_row(url, cast)


async def sign_three_steps(
    client: httpx.AsyncClient,
    anonymous: httpx.AsyncClient,
    cast: Cast,
    smtp,  # type: ignore[no-untyped-def]
) -> tuple[str, dict[str, Any]]:
    """A partnership convention frozen, sent in three steps, signed by each in turn from the
    link in their e-mail. Returns the convention's URL and its completed request."""
    url, _ = await sent_in_three_steps(client, cast)
    for email in (
        cast.world.tenant.pilot.email,
        cast.association2_worker.email,
        cast.world.tenant.association_worker.email,
    ):
        await sign_as(anonymous, smtp, links_to(smtp, email)[0], email)
    return url, await request_row(url, cast)


async def signed_bundle(
    client: httpx.AsyncClient, url: str, request_id: uuid.UUID
) -> tuple[bytes, bytes]:
    """(signed PDF, certificate of signature) from the ZIP the parties download."""
    response = await client.get(f"{url}/signature/{request_id}/dossier.zip")
    assert response.status_code == 200, response.text
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = sorted(archive.namelist(), key=lambda n: "certificat" in n)
    return archive.read(names[0]), archive.read(names[1])


@pytest.fixture
def signing_clock(clock: Clock) -> Clock:
    """The controlled clock, which the signing domain reads too (codes, reminders, expiry)."""
    return clock
