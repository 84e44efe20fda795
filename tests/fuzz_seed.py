"""What the fuzz of every form needs beyond the demo data, created before its snapshot: a
piece awaiting review, conventions sent for signature (one signed in the portal, one outside
it) and one ready to send, an annex, a pending invitation, a saved export model, a failed job,
an account with a TOTP and one enrolling one. Everything goes through the portal's services
or its pages, as the person whose role does it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from typing import Any

import httpx

from tests.conftest import CSRF_RE, Person, delivered_mails, enrol_second_factor
from tests.documents.conftest import pdf_bytes

SIGNATURE_LINK = re.compile(r"https?://[^/\s]+(/signature/[A-Za-z0-9_\-]+)")


@dataclasses.dataclass
class Seeded:
    # Role → pages its crawl starts from, on top of the usual ones.
    starts: dict[str, list[str]]
    # Pages opened from an e-mailed link, each crawled by its own anonymous visitor.
    links: list[str]
    # A client halfway through a login with a TOTP, on /login/code.
    second_step: httpx.AsyncClient


async def _post(
    client: httpx.AsyncClient, page: str, path: str, data: dict[str, Any], **kw: Any
) -> httpx.Response:
    token = CSRF_RE.search((await client.get(page)).text)
    assert token, f"no CSRF token on {page}"
    return await client.post(path, data={"csrf_token": token.group(1), **data}, **kw)


async def _client(make_client: Any, email: str, password: str) -> httpx.AsyncClient:
    client: httpx.AsyncClient = make_client()
    response = await _post(client, "/login", "/login", {"email": email, "password": password})
    assert response.status_code == 303, response.text[:300]
    return client


async def _ready_convention(slug: str, pilot: Any, title: str) -> uuid.UUID:
    """A partnership convention prepared as the demo prepares its own, frozen (ready)."""
    from portal.conventions import demo as conventions_demo
    from portal.conventions import drafting, versions
    from portal.conventions.lifecycle import add_months
    from portal.core.actor import Actor
    from portal.tenants.service import resolve_tenant

    ctx = await resolve_tenant(slug, pilot.id)
    assert ctx is not None
    actor = Actor.system(pilot.id, pilot.email)
    convention = await drafting.create(actor, ctx, pilot, "partnership", title)
    start = add_months(dt.date.today().replace(day=1), 30)
    info = {
        "title": title,
        "project_name": "Logement d'abord",
        "territory": "Métropole de Lyon",
        "starts_on": start,
        "duration_months": 12,
        "households_target": 10,
        "homes_target": 5,
        "unit_diagnostic_cents": 15_000,
        "unit_accompaniment_cents": 160_000,
        "unit_gla_cents": 30_000,
    }
    lines: list[dict[str, Any]] = [
        {
            "side": "expense",
            "category": "accompaniment",
            "label": "Accompagnement",
            "amount_cents": 1_000_000,
        },
        {
            "side": "resource",
            "category": "state_fund",
            "label": "FNAVDL",
            "amount_cents": 1_000_000,
            "confirmed": True,
            "funding_line": "FNAVDL hors DALO",
        },
    ]
    from portal.tenants.service import organisations

    signatories = {o["name"]: ("Claire Martin", "Directrice") for o in await organisations(ctx)}
    opened = await conventions_demo._prepare(slug, pilot, convention, info, lines, signatories)
    await versions.change_status(actor, opened, pilot, "review")
    opened = await conventions_demo._opened(slug, pilot, convention)
    await versions.change_status(actor, opened, pilot, "ready")
    return convention


def _request_form(email: str, external: bool) -> dict[str, str]:
    return {
        "rows": "1",
        "expires_on": "31/12/2099",
        "reminder_days": "3, 7",
        "p-0-step": "1",
        "p-0-role": "signer",
        "p-0-party": "1",
        "p-0-name": "Claire Martin",
        "p-0-email": email,
        **({"external-1": "on"} if external else {}),
    }


async def seed(accounts: list[tuple[str, str, str, str]], make_client: Any) -> Seeded:
    from portal.auth import service as auth
    from portal.core.actor import Actor
    from portal.documents.tables import DocumentItem
    from portal.jobs import repository as jobs
    from portal.jobs.enums import JobStatus
    from portal.jobs.tables import OutboxJob
    from portal.payments import exports
    from portal.payments.enums import ExportFormat
    from portal.payments.tables import Line as PaymentLine
    from portal.signing import repository as signing
    from portal.tenants.service import resolve_tenant

    by_role: dict[str, tuple[str, str, str]] = {}
    for email, password, role, slug in accounts:
        by_role.setdefault(role, (email, password, slug))
    slug = by_role["pilot"][2]
    base = f"/c/{slug}"
    pilot_email = by_role["pilot"][0]
    pilot = await auth.user_by_email(pilot_email)
    finance = await auth.user_by_email(by_role["finance"][0])
    assert pilot is not None and finance is not None
    pilot_client = await _client(make_client, *by_role["pilot"][:2])
    worker_client = await _client(make_client, *by_role["association_staff"][:2])
    ctx = await resolve_tenant(slug, pilot.id)
    assert ctx is not None
    starts: dict[str, list[str]] = {role: [] for role in by_role}

    # 1. A piece deposited by the association, awaiting review (and its version, deletable).
    worker = await auth.user_by_email(by_role["association_staff"][0])
    assert worker is not None
    worker_ctx = await resolve_tenant(slug, worker.id)
    assert worker_ctx is not None
    item = await (
        DocumentItem.select(DocumentItem.id)
        .where(  # tenant-scope-ok: test seeding
            (DocumentItem.consortium == ctx.consortium_id)
            & (DocumentItem.organisation == worker_ctx.organisation_id)
            & (DocumentItem.status == "expected")
        )
        .first()
    )
    assert item is not None, "the demo has no piece expected from the association"
    piece = f"{base}/pieces/{item['id']}"
    response = await _post(
        worker_client,
        piece,
        f"{piece}/versions",
        {},
        files={"file": ("rapport.pdf", pdf_bytes(), "application/pdf")},
    )
    assert response.status_code == 303, response.text[:500]
    starts["pilot"].append(piece)
    starts["association_staff"].append(piece)

    # 2. Every payment line (results and justified expenses are declared on theirs).
    lines = await PaymentLine.select(PaymentLine.id).where(  # tenant-scope-ok: test seeding
        PaymentLine.consortium == ctx.consortium_id
    )
    starts["finance"] += [f"{base}/versements/lignes/{line['id']}" for line in lines]
    starts["finance"].append(f"{base}/versements/nouveau")

    # 3. Signature: one request signed in the portal, one outside it, one convention ready.
    in_portal = await _ready_convention(slug, pilot, "Convention signée dans le portail")
    outside = await _ready_convention(slug, pilot, "Convention signée hors du portail")
    waiting = await _ready_convention(slug, pilot, "Convention prête à envoyer")
    for convention, external in ((in_portal, False), (outside, True)):
        url = f"{base}/conventions/{convention}"
        response = await _post(
            pilot_client, url, f"{url}/signature", _request_form(pilot_email, external)
        )
        assert response.status_code == 303, response.text[:500]
        [request] = await signing.requests_of(ctx, convention)
        starts["pilot"] += [
            f"{url}/signature",
            f"{url}/signature/{request['id']}/annulation",
        ]
    starts["pilot"].append(f"{base}/conventions/{waiting}/signature")

    # 4. An annex on the draft avenant, a pending invitation, a saved export model, a failed
    # job, an account with a TOTP.
    from portal.conventions.tables import Convention

    draft = await (
        Convention.select(Convention.id)
        .where(  # tenant-scope-ok: test seeding
            (Convention.consortium == ctx.consortium_id) & (Convention.status == "draft")
        )
        .first()
    )
    assert draft is not None, "the demo has no draft convention"
    url = f"{base}/conventions/{draft['id']}"
    response = await _post(
        pilot_client,
        url,
        f"{url}/annexes",
        {"title": "Annexe financière"},
        files={"file": ("annexe.pdf", pdf_bytes(), "application/pdf")},
    )
    assert response.status_code == 303, response.text[:500]
    starts["pilot"].append(url)

    response = await _post(
        pilot_client,
        f"{base}/membres",
        f"{base}/invitations",
        {
            "email": "invitee@exemple-demo.fr",
            "organisation": str(worker_ctx.organisation_id),
            "role": "association_staff",
        },
    )
    assert response.status_code == 303, response.text[:500]
    starts["pilot"].append(f"{base}/membres")

    finance_ctx = await resolve_tenant(slug, finance.id)
    assert finance_ctx is not None
    await exports.save_model(
        Actor.system(finance.id, finance.email),
        finance_ctx,
        finance,
        "Modèle de test",
        exports.default_choice(),
        ExportFormat.CSV,
    )
    starts["finance"].append(f"{base}/versements/exports")

    now = dt.datetime.now(dt.UTC)
    job_id = await jobs.insert("mail", {}, None, now, None, 1)
    failed: dict[Any, Any] = {
        OutboxJob.status: JobStatus.FAILED,
        OutboxJob.finished_at: now,
        OutboxJob.last_error: "SMTP injoignable (tâche en échec pour le test)",
    }
    await OutboxJob.update(failed).where(OutboxJob.id == job_id)  # tenant-scope-ok: test seeding

    # The State agent is enrolling a TOTP (the secret is shown, the code not typed yet)…
    from portal.auth import second_factor

    agent = await auth.user_by_email(by_role["state_agent"][0])
    assert agent is not None
    await second_factor.start_enrolment(agent)
    starts["state_agent"].append("/compte/securite/totp")
    # …and the other consortium's pilot, who no crawl signs in as, has one.
    other = next(a for a in accounts if a[2] == "pilot" and a[0] != pilot_email)
    user = await auth.user_by_email(other[0])
    assert user is not None
    await enrol_second_factor(Person(user.id, other[0]))
    second_step: httpx.AsyncClient = make_client()
    response = await _post(
        second_step, "/login", "/login", {"email": other[0], "password": other[1]}
    )
    assert response.headers.get("location", "").startswith("/login/code"), response.text[:300]

    links = []
    for path in await delivered_mails():
        text = path.read_text(errors="replace").replace("=\n", "")
        links += SIGNATURE_LINK.findall(text)
    links = list(dict.fromkeys(links))
    return Seeded(starts, links, second_step)
