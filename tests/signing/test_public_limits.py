"""The public endpoints are bounded: /verification by size (20 MB) and by rate per client
address, signing-code requests by rate per client address (issue 14, points 17 and 19)."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import AsyncIterator

import httpx
import pytest

from portal.signing import routes
from tests.conftest import csrf_token
from tests.conventions.conftest import Cast
from tests.signing.conftest import ceremony_post, links_to, sent_in_three_steps

MB = 1024 * 1024
BOUNDARY = "limite-de-test-0123456789"


async def post_pdf(client: httpx.AsyncClient, content: bytes) -> httpx.Response:
    token = await csrf_token(client, "/verification")
    return await client.post(
        "/verification",
        data={"csrf_token": token},
        files={"file": ("gros.pdf", content, "application/pdf")},
    )


class TestVerificationSize:
    async def test_a_file_over_20_mb_is_refused_in_french(
        self, anonymous: httpx.AsyncClient
    ) -> None:
        response = await post_pdf(anonymous, b"%PDF-1.7\n" + b"0" * (21 * MB))
        assert response.status_code == 413
        page = html.unescape(response.text)
        assert "dépasse 20 Mo" in page
        assert 'id="f-file-error"' in response.text

    async def test_a_file_just_under_the_limit_is_read(self, anonymous: httpx.AsyncClient) -> None:
        response = await post_pdf(anonymous, b"not a pdf" + b"0" * (19 * MB))
        assert response.status_code == 422  # read and checked, not refused for its size
        assert "dépasse 20 Mo" not in html.unescape(response.text)

    async def test_an_endless_upload_is_cut_without_reading_it_all(
        self, anonymous: httpx.AsyncClient
    ) -> None:
        token = await csrf_token(anonymous, "/verification")
        sent = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal sent
            head = (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
                f'{token}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                'filename="sans-fin.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n'
            )
            yield head.encode()
            for _ in range(200):  # 200 MB if anyone read it all
                sent += 1
                yield b"0" * MB

        response = await anonymous.post(
            "/verification",
            content=body(),
            headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
        assert response.status_code == 413
        assert "dépasse 20 Mo" in html.unescape(response.text)
        assert sent <= 22  # stopped just past the budget

    async def test_a_declared_oversize_body_is_refused_before_reading(
        self, anonymous: httpx.AsyncClient
    ) -> None:
        token = await csrf_token(anonymous, "/verification")
        payload = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
            f"{token}\r\n--{BOUNDARY}--\r\n"
        ).encode()
        response = await anonymous.post(
            "/verification",
            content=payload,
            headers={
                "content-type": f"multipart/form-data; boundary={BOUNDARY}",
                "content-length": str(500 * MB),
            },
        )
        assert response.status_code == 413


class TestVerificationRate:
    async def test_an_address_is_blocked_after_its_budget(self, app) -> None:  # type: ignore[no-untyped-def]
        limit = routes.VERIFICATIONS_PER_ADDRESS[0]
        transport = httpx.ASGITransport(app=app, client=("198.51.100.40", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            for i in range(limit):
                assert (await post_pdf(c, b"pas un PDF")).status_code == 422, i
            refused = await post_pdf(c, b"pas un PDF")
        assert refused.status_code == 429
        assert "réessayez dans" in html.unescape(refused.text)
        assert int(refused.headers["retry-after"]) <= 10 * 60
        other = httpx.ASGITransport(app=app, client=("203.0.113.40", 5000))
        async with httpx.AsyncClient(transport=other, base_url="http://testserver") as c:
            assert (await post_pdf(c, b"pas un PDF")).status_code == 422


class TestCodeRequestRate:
    async def test_code_requests_are_limited_per_address_guesses_included(
        self,
        client: httpx.AsyncClient,
        app,
        cast: Cast,
        smtp,
        monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
    ) -> None:
        monkeypatch.setattr(routes, "CODES_PER_ADDRESS", (3, dt.timedelta(hours=1)))
        await sent_in_three_steps(client, cast)
        pilot = cast.world.tenant.pilot.email
        link = links_to(smtp, pilot)[0]
        transport = httpx.ASGITransport(app=app, client=("198.51.100.50", 5000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            for n in range(3):  # guessed links spend the same budget
                guessed = await ceremony_post(c, f"/signature/devine{n}", "code")
                assert guessed.status_code == 404
            before = len(smtp.handler.messages)
            refused = await ceremony_post(c, link, "code")
        assert refused.status_code == 429
        assert "réessayez dans" in html.unescape(refused.text)
        assert len(smtp.handler.messages) == before  # no code sent
        other = httpx.ASGITransport(app=app, client=("203.0.113.50", 5000))
        async with httpx.AsyncClient(transport=other, base_url="http://testserver") as c:
            assert (await ceremony_post(c, link, "code")).status_code == 303


class TestSignedUploadSize:
    async def test_an_endless_signed_pdf_upload_is_cut_without_reading_it_all(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The signer's « déposer le PDF signé » form is bounded as /verification is: the file
        part is counted as it arrives, not spooled whole and then read into memory."""
        monkeypatch.setattr(routes, "UPLOAD_LIMIT", 5 * MB)
        await sent_in_three_steps(client, cast)
        link = links_to(smtp, cast.world.tenant.pilot.email)[0]
        page = await anonymous.get(link)
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        sent = 0

        async def body() -> AsyncIterator[bytes]:
            nonlocal sent
            head = (
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
                f'{token}\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
                'filename="signe.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.7\n'
            )
            yield head.encode()
            for _ in range(100):
                sent += 1
                yield b"0" * MB

        response = await anonymous.post(
            f"{link}/depot",
            content=body(),
            headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
        )
        assert response.status_code == 413
        assert "dépasse 5 Mo" in html.unescape(response.text)
        assert sent <= 7
