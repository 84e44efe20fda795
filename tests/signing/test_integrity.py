"""Signing integrity (issue 14, points 6-8): review cannot be reopened under a live request, it
must be cancelled first from a confirmation page that names who already signed; a link that
no longer leads to a signature (replaced signer, cancelled or expired request) answers 404
everywhere; a link may ask for at most 5 codes an hour and 10 a day."""

from __future__ import annotations

import datetime as dt
import html
import re

import httpx
import pytest

from tests.conftest import Clock, run_jobs
from tests.conventions.conftest import Cast, convention_row, post, set_status
from tests.signing.conftest import (
    SEEN,
    cancel_request,
    ceremony_post,
    frozen_convention,
    links_to,
    people,
    request_row,
    send_request,
    sent_in_three_steps,
    sign_as,
    three_steps,
)

pytestmark = pytest.mark.usefixtures("base_url")


class TestReopenDuringSignature:
    async def test_reopening_is_refused_until_the_request_is_cancelled_after_confirmation(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        pilot = cast.world.tenant.pilot.email
        url, req = await sent_in_three_steps(client, cast)
        await sign_as(anonymous, smtp, links_to(smtp, pilot)[0], pilot)

        # The page offers the cancellation, not a button that would be refused.
        shown = (await client.get(url)).text
        assert 'name="status" value="review"' not in shown
        assert f'href="{url}/signature/{req["id"]}/annulation"' in shown
        response = await set_status(client, url, "review")
        assert response.status_code == 409
        assert "demande de signature est en cours" in response.text
        assert (await convention_row(url))["status"] == "ready"

        # Cancelling straight from a form without the confirmation does nothing.
        base = f"{url}/signature/{req['id']}/annulation"
        response = await post(client, base, {"reason": "Texte à corriger"})
        assert response.status_code == 422
        assert (await request_row(url, cast))["status"] == "active"

        page = await client.get(base)
        assert page.status_code == 200
        assert "Déjà signé" in page.text and "Pilote Alpha" in page.text
        seen = SEEN.search(page.text)
        assert seen is not None
        for reason, message in (
            ("", "Indiquez le motif"),
            ("Motif\x00caché", "caractère"),
            ("x" * 2001, "limité à 2"),
        ):
            response = await post(client, base, {"reason": reason, "signed": seen.group(1)})
            assert response.status_code == 422 and message in response.text, reason[:20]
        assert (await request_row(url, cast))["status"] == "active"

        response = await post(client, base, {"reason": "Texte à corriger", "signed": seen.group(1)})
        assert response.status_code == 303
        assert (await request_row(url, cast))["status"] == "cancelled"
        assert 'name="status" value="review"' in (await client.get(url)).text
        history = (await client.get(f"{url}/historique")).text
        assert "Demande de signature annulée" in history and "Texte à corriger" in history

        response = await set_status(client, url, "review")
        assert response.status_code == 303
        assert (await convention_row(url))["status"] == "review"

    async def test_a_signature_made_after_the_page_was_shown_asks_for_confirmation_again(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        pilot = cast.world.tenant.pilot.email
        url, req = await sent_in_three_steps(client, cast)
        base = f"{url}/signature/{req['id']}/annulation"
        page = await client.get(base)
        assert "Personne n'a encore signé" in page.text
        seen = SEEN.search(page.text)
        assert seen is not None
        await sign_as(anonymous, smtp, links_to(smtp, pilot)[0], pilot)
        response = await post(client, base, {"reason": "Erreur", "signed": seen.group(1)})
        assert response.status_code == 422 and "Pilote Alpha" in response.text
        assert (await request_row(url, cast))["status"] == "active"

    async def test_a_review_reopened_while_the_request_is_being_sent_wins(
        self, client: httpx.AsyncClient, cast: Cast, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The pilot reopens review in one tab while the request leaves from another: the
        request, checked again holding the convention's row, is refused; no request exists
        on a text that is editable again."""
        from portal.signing import keys

        url = await frozen_convention(client, cast)
        real_seal = keys.seal

        async def reopened_meanwhile(scope):  # type: ignore[no-untyped-def]
            # Runs after the request's first checks, before it is stored.
            assert (await set_status(client, url, "review")).status_code == 303
            return await real_seal(scope)

        monkeypatch.setattr(keys, "seal", reopened_meanwhile)
        response = await post(client, f"{url}/signature", three_steps(cast))
        assert response.status_code in (400, 409, 422)
        assert "vient d'être rouverte" in html.unescape(response.text)
        assert (await convention_row(url))["status"] == "review"
        from portal.signing.tables import SignatureRequest

        assert await SignatureRequest.count() == 0


async def _replaced(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, cast: Cast, smtp, clock: Clock
) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The bailleur's signer is replaced, then everyone signs: the request is completed."""
    url, req = await sent_in_three_steps(client, cast)
    old = links_to(smtp, cast.world.tenant.pilot.email)[0]
    first = next(p for p in await people(cast, req["id"]) if p["step"] == 1)
    response = await post(
        client,
        f"{url}/signature/{req['id']}/participants/{first['id']}/remplacement",
        {"name": "Copilote Alpha", "email": cast.second_pilot.email, "reason": "Congé"},
    )
    assert response.status_code == 303
    await run_jobs()
    for email in (
        cast.second_pilot.email,
        cast.association2_worker.email,
        cast.world.tenant.association_worker.email,
    ):
        clock.advance(minutes=1)
        await sign_as(anonymous, smtp, links_to(smtp, email)[0], email)
    assert (await request_row(url, cast))["status"] == "completed"
    return old, links_to(smtp, cast.second_pilot.email)[0]


async def _cancelled(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, cast: Cast, smtp, clock: Clock
) -> tuple[str, str | None]:  # type: ignore[no-untyped-def]
    url, req = await sent_in_three_steps(client, cast)
    response = await cancel_request(client, url, req["id"], "Erreur dans l'annexe")
    assert response.status_code == 303
    assert (await request_row(url, cast))["status"] == "cancelled"
    return links_to(smtp, cast.world.tenant.pilot.email)[0], None


async def _expiring(client: httpx.AsyncClient, cast: Cast, smtp) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    url = await frozen_convention(client, cast)
    await send_request(client, url, three_steps(cast) | {"expires_on": "30/11/2026"})
    await run_jobs()
    return url, links_to(smtp, cast.world.tenant.pilot.email)[0]


async def _expired(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, cast: Cast, smtp, clock: Clock
) -> tuple[str, str | None]:  # type: ignore[no-untyped-def]
    from portal.signing import schedule

    url, link = await _expiring(client, cast, smtp)
    clock.at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    await schedule.scan(clock.at)
    assert (await request_row(url, cast))["status"] == "expired"
    return link, None


async def _past_expiry_before_the_scan(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient, cast: Cast, smtp, clock: Clock
) -> tuple[str, str | None]:  # type: ignore[no-untyped-def]
    """The date has passed but the periodic scan has not closed the request yet."""
    url, link = await _expiring(client, cast, smtp)
    clock.at = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    assert (await request_row(url, cast))["status"] == "active"
    return link, None


SCENARIOS = {
    "replaced": _replaced,
    "cancelled": _cancelled,
    "expired": _expired,
    "past-expiry-before-the-scan": _past_expiry_before_the_scan,
}
CEREMONY = [
    ("GET", ""),
    ("GET", "/document.pdf"),
    ("GET", "/dossier.zip"),
    ("POST", "/code"),
    ("POST", "/signer"),
    ("POST", "/refus"),
    ("POST", "/delegation"),
    ("POST", "/depot"),
]


class TestDeadLinks:
    @pytest.mark.parametrize("scenario", list(SCENARIOS))
    async def test_every_page_of_a_dead_link_answers_404(
        self,
        scenario: str,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
        signing_clock: Clock,
    ) -> None:
        dead, alive = await SCENARIOS[scenario](client, anonymous, cast, smtp, signing_clock)
        sent = len(smtp.handler.messages)
        answers = {}
        for method, suffix in CEREMONY:
            if method == "GET":
                response = await anonymous.get(dead + suffix)
            else:
                form = {"code": "123456", "consent": "on", "reason": "x", "mark_kind": "typed"}
                response = await ceremony_post(anonymous, dead, suffix.lstrip("/"), form)
            answers[f"{method} {suffix or '/'}"] = response.status_code
        assert answers == {key: 404 for key in answers}
        assert len(smtp.handler.messages) == sent  # no code went out
        if alive is not None:  # the successor's link still gives the signed documents
            for suffix in ("", "/document.pdf", "/dossier.zip"):
                assert (await anonymous.get(alive + suffix)).status_code == 200, suffix


async def _ask_code(anonymous: httpx.AsyncClient, link: str) -> httpx.Response:
    return await ceremony_post(anonymous, link, "code")


def _codes_to(smtp, email: str) -> int:  # type: ignore[no-untyped-def]
    return sum(
        1
        for m in smtp.handler.messages
        if m["To"] == email and str(m["Subject"]).startswith("Votre code de signature")
    )


def _lockouts(page: str) -> int:
    return page.count("a demandé trop de codes de signature")


class TestCodeCap:
    async def test_five_codes_an_hour_then_ten_a_day_and_the_pilot_is_told_once(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
        signing_clock: Clock,
    ) -> None:
        pilot = cast.world.tenant.pilot.email
        await sent_in_three_steps(client, cast)
        link = links_to(smtp, pilot)[0]
        start = signing_clock.at  # Monday 23/11/2026, 10:00 in Paris
        for _ in range(5):
            assert (await _ask_code(anonymous, link)).status_code == 303
            signing_clock.advance(seconds=31)
        assert _codes_to(smtp, pilot) == 5

        for _ in range(3):  # asked again and again: refused each time, the pilot told once
            response = await _ask_code(anonymous, link)
            assert response.status_code == 429
            assert "le 23/11/2026 à 11:00" in response.text, response.text
            signing_clock.advance(seconds=31)
        assert _codes_to(smtp, pilot) == 5
        page = await anonymous.get(link)
        assert "le 23/11/2026 à 11:00" in page.text
        await run_jobs()
        assert _lockouts((await client.get("/notifications")).text) == 1

        # After an hour the link may ask again, up to ten codes in the day.
        signing_clock.at = start + dt.timedelta(hours=1, minutes=3)
        for _ in range(5):
            response = await _ask_code(anonymous, link)
            assert response.status_code == 303, re.findall(r'role="alert">([^<]*)', response.text)
            signing_clock.advance(seconds=31)
        signing_clock.at = start + dt.timedelta(hours=3)
        response = await _ask_code(anonymous, link)
        assert response.status_code == 429
        assert "le 24/11/2026 à 10:00" in response.text
        assert _codes_to(smtp, pilot) == 10
        await run_jobs()
        assert _lockouts((await client.get("/notifications")).text) == 2

        signing_clock.at = start + dt.timedelta(days=1, minutes=1)
        assert (await _ask_code(anonymous, link)).status_code == 303
        assert _codes_to(smtp, pilot) == 11


def detailed_drawing() -> bytes:
    """A signature drawn with many strokes, as a tablet gives it: a PNG of some 30 KB, whose
    data URL is longer than any text field may be."""
    import io
    import random

    from PIL import Image, ImageDraw

    rng = random.Random(14)
    image = Image.new("RGBA", (480, 160), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for _ in range(400):
        points = [(rng.randrange(480), rng.randrange(160)) for _ in range(4)]
        draw.line(points, (rng.randrange(256), 30, 60, rng.randrange(80, 256)), 2)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


class TestDrawnMark:
    async def test_a_detailed_drawn_signature_is_accepted(
        self,
        client: httpx.AsyncClient,
        anonymous: httpx.AsyncClient,
        cast: Cast,
        smtp,  # type: ignore[no-untyped-def]
    ) -> None:
        """The form layer bounds every field to 20,000 characters; the drawn mark, a PNG data
        URL, has its own bound (that of the mark), so a careful signature is not refused."""
        import base64

        from portal.core.forms import LONG_TEXT_MAX
        from tests.signing.conftest import last_code

        await sent_in_three_steps(client, cast)
        pilot = cast.world.tenant.pilot.email
        link = links_to(smtp, pilot)[0]
        assert (await ceremony_post(anonymous, link, "code")).status_code == 303
        image = "data:image/png;base64," + base64.b64encode(detailed_drawing()).decode()
        assert len(image) > LONG_TEXT_MAX
        form = {
            "code": last_code(smtp, pilot),
            "consent": "on",
            "mark_kind": "drawn",
            "mark_image": image,
        }
        response = await ceremony_post(anonymous, link, "signer", form)
        assert response.status_code == 303, html.unescape(response.text)[-3000:]
