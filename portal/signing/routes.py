"""Signing pages: the pilot's follow-up under a convention (through `@on_convention`, so the
convention's visibility rules apply), the public ceremony reached by an e-mailed link, the
public verification page, and downloads."""

from __future__ import annotations

import datetime as dt
import functools
import io
import uuid
import zipfile
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.auth import service as auth
from portal.conventions.web import on_convention, opened_for
from portal.core import body
from portal.core.actor import Actor
from portal.core.forms import (
    FieldError,
    FormResult,
    is_digits,
    long_text,
    read_form,
    redisplay,
    text,
)
from portal.core.outage import Unavailable
from portal.core.permissions import Endpoint, Permission, requires
from portal.core.responses import pdf_response, see_other
from portal.core.scope import consortium_scope
from portal.core.templating import flash, render
from portal.signing import ceremony, files, forms, requests, service, verification, workflow
from portal.signing.enums import ParticipantRole, ParticipantStatus, RequestStatus
from portal.signing.pades.errors import PadesError

UPLOAD_LIMIT = 60 * 1024 * 1024
# Per client address (the per-link cap on codes lives in `ceremony`).
CODES_PER_ADDRESS = (20, dt.timedelta(hours=1))
VERIFICATIONS_PER_ADDRESS = (20, dt.timedelta(minutes=10))
VERIFY_MAX_BYTES = 20 * 1024 * 1024
VERIFY_TOO_LARGE = (
    "Ce fichier dépasse 20 Mo, la taille maximale acceptée par la vérification. "
    "Un PDF signé du portail est bien plus petit : vérifiez que c'est le bon fichier."
)


def _uuid(request: Request, name: str) -> uuid.UUID:
    try:
        return uuid.UUID(request.path_params[name])
    except ValueError as exc:
        raise HTTPException(404) from exc


# The pilot's page ------------------------------------------------------------------------------


async def _manage(
    request: Request,
    errors: dict[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    opened = opened_for(request)
    latest = await requests.latest(opened)
    context: dict[str, Any] = {
        "c": opened,
        "errors": errors or {},
        "values": values or {},
        "view": None,
        "draft": None,
    }
    if latest is not None:
        context["view"] = await requests.view(opened, latest["id"])
    may_create = (
        opened.ctx.role == "pilot"
        and (latest is None or latest["status"] != RequestStatus.ACTIVE)
        and opened.row["status"] == "ready"
    )
    if may_create:
        context["draft"] = await requests.draft(opened)
    return await render(request, "signing/manage.html", context, status_code=status_code)


@on_convention(Permission.CONVENTIONS_VIEW)
async def manage(request: Request) -> Response:
    return await _manage(request)


@on_convention(Permission.CONVENTIONS_EDIT)
async def create(request: Request) -> Response:
    opened = opened_for(request)
    form = await read_form(request)
    refused = FormResult.of(form).errors  # what the form layer refused, beside its field
    draft = await requests.draft(opened)
    lines, errors = forms.parse_lines(form, len(draft["parties"]))
    try:
        expires_on = forms.parse_expiry(str(form.get("expires_on", "")))
        reminder_days = forms.parse_reminders(str(form.get("reminder_days", "")))
    except FieldError as exc:
        errors[exc.field or "request"] = exc.message
    errors = {**errors, **refused}  # the form layer's reason wins on its field
    if errors:
        return await _manage(request, errors, form, 422)
    external = {
        int(key.removeprefix("external-"))
        for key in form
        if key.startswith("external-") and is_digits(key.removeprefix("external-"))
    }
    try:
        await requests.create(
            Actor.of_request(request),
            opened,
            request.state.user,
            lines,
            external_steps=external,
            expires_on=expires_on,
            reminder_days=reminder_days,
        )
    except FieldError as exc:
        return await _manage(request, {exc.field or "request": exc.message}, form, 422)
    except Unavailable as exc:
        return await _manage(request, {"request": exc.message}, form, 503)
    return flash(
        see_other(f"{opened.base}/signature"),
        "Demande de signature envoyée : la première étape est invitée par e-mail.",
    )


async def _pilot_action(request: Request, action: Any, done: str) -> Response:
    opened = opened_for(request)
    try:
        await action(opened, dict(await read_form(request)))
    except FieldError as exc:
        return await _manage(request, {exc.field or "request": exc.message}, None, 422)
    return flash(see_other(f"{opened.base}/signature"), done)


async def _cancel_page(
    request: Request,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    opened = opened_for(request)
    found = await requests.cancellation(opened, _uuid(request, "request_id"))
    return await render(
        request,
        "signing/cancel.html",
        {"c": opened, "errors": errors or {}, "values": values or {}, **found},
        status_code=status_code,
    )


@on_convention(Permission.CONVENTIONS_EDIT)
async def cancel_confirm(request: Request) -> Response:
    return await _cancel_page(request)


@on_convention(Permission.CONVENTIONS_EDIT)
async def cancel(request: Request) -> Response:
    opened = opened_for(request)
    form = await read_form(request)
    try:
        seen = form.get("signed")
        await requests.cancel(
            Actor.of_request(request),
            opened,
            request.state.user,
            _uuid(request, "request_id"),
            text(form, "reason", forms.REASON_MAX),
            None if seen is None else str(seen),
        )
    except FieldError as exc:
        errors = {exc.field or "request": exc.message}
        return await _cancel_page(request, errors, redisplay(form), 422)
    return flash(
        see_other(f"{opened.base}/signature"),
        "Demande de signature annulée ; les personnes concernées sont prévenues. Vous pouvez "
        "rouvrir la relecture.",
    )


@on_convention(Permission.CONVENTIONS_EDIT)
async def expiry(request: Request) -> Response:
    request_id = _uuid(request, "request_id")

    async def act(o: Any, f: dict[str, Any]) -> None:
        await requests.set_expiry(
            Actor.of_request(request),
            o,
            request.state.user,
            request_id,
            forms.parse_expiry(str(f.get("expires_on", ""))),
        )

    return await _pilot_action(request, act, "Date d'expiration modifiée.")


@on_convention(Permission.CONVENTIONS_EDIT)
async def replace(request: Request) -> Response:
    request_id, participant_id = _uuid(request, "request_id"), _uuid(request, "participant_id")
    return await _pilot_action(
        request,
        lambda o, f: requests.replace(
            Actor.of_request(request),
            o,
            request.state.user,
            request_id,
            participant_id,
            str(f.get("name", "")).strip(),
            str(f.get("email", "")).strip(),
            str(f.get("reason", "")).strip(),
        ),
        "Signataire remplacé : la nouvelle personne est invitée, l'ancien lien ne fonctionne plus.",
    )


@on_convention(Permission.CONVENTIONS_EDIT)
async def remind(request: Request) -> Response:
    request_id, participant_id = _uuid(request, "request_id"), _uuid(request, "participant_id")
    return await _pilot_action(
        request,
        lambda o, f: requests.remind(
            Actor.of_request(request), o, request.state.user, request_id, participant_id
        ),
        "Relance envoyée.",
    )


async def _files_of(request: Request) -> tuple[dict[str, Any], bytes, bytes | None]:
    opened = opened_for(request)
    found = await requests.view(opened, _uuid(request, "request_id"))
    req = found["request"]
    latest = found["revisions"][-1]
    signed = await files.get(latest["storage_key"], latest["sha256"])
    certificate = (
        await files.get(req["certificate_key"], req["certificate_sha256"])
        if req["certificate_key"]
        else None
    )
    return found, signed, certificate


def _names(reference: str, completed: bool) -> tuple[str, str]:
    suffix = "signee" if completed else "en-cours-de-signature"
    return f"{reference}-{suffix}.pdf", f"{reference}-certificat-de-signature.pdf"


@on_convention(Permission.CONVENTIONS_VIEW)
async def document(request: Request) -> Response:
    found, signed, _ = await _files_of(request)
    done = found["status"] == RequestStatus.COMPLETED
    return pdf_response(_names(opened_for(request).row["reference"], done)[0], signed)


@on_convention(Permission.CONVENTIONS_VIEW)
async def certificate(request: Request) -> Response:
    _, _, cert = await _files_of(request)
    if cert is None:
        raise HTTPException(404)
    return pdf_response(_names(opened_for(request).row["reference"], True)[1], cert)


def _bundle(reference: str, signed: bytes, cert: bytes) -> Response:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        first, second = _names(reference, True)
        archive.writestr(first, signed)
        archive.writestr(second, cert)
    return Response(
        buffer.getvalue(),
        media_type="application/zip",
        headers={
            "content-disposition": f'attachment; filename="{reference}-signature.zip"',
            "cache-control": "private, no-store",
        },
    )


@on_convention(Permission.CONVENTIONS_VIEW)
async def bundle(request: Request) -> Response:
    _, signed, cert = await _files_of(request)
    if cert is None:
        raise HTTPException(404)
    return _bundle(opened_for(request).row["reference"], signed, cert)


@requires(Permission.SPACE_VIEW)
async def my_signature(request: Request) -> Response:
    """From the home page: an account holder's own pending signature, through its link."""
    ctx, user = request.state.tenant, request.state.user
    person = await service.participant(ctx, _uuid(request, "participant_id"))
    if person is None or (person["user_id"] != user.id and person["email"] != user.email.lower()):
        raise HTTPException(404)
    return see_other(workflow.link_for(person))


# The ceremony -----------------------------------------------------------------------------------


def signing_link(endpoint: Endpoint) -> Endpoint:
    """A signing link's pages run in the scope of its consortium, found by the link's token
    (an unknown one: no scope, and the page answers 404)."""

    @functools.wraps(endpoint)
    async def in_scope(request: Request) -> Response:
        consortium = await ceremony.link_consortium(request.path_params["token"])
        async with consortium_scope(consortium):
            return await endpoint(request)

    return in_scope


async def _ceremony(request: Request) -> ceremony.Ceremony:
    found = await ceremony.load(request.path_params["token"])
    if found is None:
        raise HTTPException(404)
    return found


def _audit(request: Request, c: ceremony.Ceremony) -> Any:
    return requests.audit_of(
        Actor.of_request(request), f"{c.participant['name']} <{c.participant['email']}>"
    )


async def _ceremony_page(
    request: Request,
    c: ceremony.Ceremony,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
    values: dict[str, Any] | None = None,
) -> Response:
    colleagues = []
    if c.participant["organisation"]:
        from portal.tenants import service as tenants

        colleagues = [
            m
            for m in await tenants.members(c.scope)
            if m["organisation_id"] == c.participant["organisation"]
            and m["is_active"]
            and m["email"].lower() != c.participant["email"]
        ]
    return await render(
        request,
        "signing/ceremony.html",
        {
            "c": c,
            "errors": errors or {},
            "values": values or {},
            "colleagues": colleagues,
            "token": request.path_params["token"],
            "status_label": ParticipantStatus(c.participant["status"]).label,
            "request_label": RequestStatus(c.request["status"]).label,
            "signer": c.participant["role"] == ParticipantRole.SIGNER,
            "codes_blocked_until": await ceremony.codes_blocked_until(c) if c.my_turn else None,
        },
        status_code=status_code,
    )


@signing_link
async def ceremony_show(request: Request) -> Response:
    c = await _ceremony(request)
    await ceremony.record_opening(c, _audit(request, c))
    return await _ceremony_page(request, c)


@signing_link
async def ceremony_code(request: Request) -> Response:
    # Counted whether the link exists or not: guessing links costs the same budget.
    address = auth.client_address(request)
    budget = await auth.throttle_hit("signing_code", address, *CODES_PER_ADDRESS)
    c = await _ceremony(request)
    if budget.over:
        page = await _ceremony_page(request, c, {"code": budget.message}, 429)
        return auth.retry_after(page, budget)
    try:
        await ceremony.send_code(c, _audit(request, c))
    except FieldError as exc:
        status = 422
        if isinstance(exc, ceremony.NotYourTurn):
            status = 409
        elif isinstance(exc, ceremony.TooManyCodes):
            status = 429
        return await _ceremony_page(request, c, {exc.field or "code": exc.message}, status)
    return flash(
        see_other(f"/signature/{request.path_params['token']}#confirmer"),
        f"Code envoyé à {c.participant['email']} : il est valable 10 minutes.",
    )


@signing_link
async def ceremony_sign(request: Request) -> Response:
    c = await _ceremony(request)
    # A drawn mark is a PNG data URL, up to MARK_MAX_BYTES once decoded.
    form = await read_form(request, longer={"mark_image": forms.MARK_MAX_BYTES * 4 // 3 + 64})
    values = {k: str(v) for k, v in form.items() if k in ("code", "mark_kind", "mark_text")}
    try:
        mark = None
        if c.participant["role"] == ParticipantRole.SIGNER:
            mark = forms.parse_mark(
                str(form.get("mark_kind", "")),
                str(form.get("mark_text", "")),
                str(form.get("mark_image", "")),
                c.participant["name"],
            )
        status = await ceremony.sign(
            c, str(form.get("code", "")), form.get("consent") == "on", mark, _audit(request, c)
        )
    except FieldError as exc:
        refreshed = await ceremony.load(request.path_params["token"]) or c
        # The mark's three fields are one fieldset on the page, with one place for its error.
        field = "mark" if (exc.field or "").startswith("mark") else exc.field or "code"
        return await _ceremony_page(
            request,
            refreshed,
            {field: exc.message},
            409 if isinstance(exc, ceremony.NotYourTurn) else 422,
            values,
        )
    message = (
        "Approbation enregistrée. Merci."
        if status == ParticipantStatus.APPROVED
        else "Signature enregistrée, merci : elle est apposée sur le document dans un instant."
    )
    return flash(see_other(f"/signature/{request.path_params['token']}"), message)


@signing_link
async def ceremony_decline(request: Request) -> Response:
    c = await _ceremony(request)
    form = await read_form(request)
    try:
        await ceremony.decline(c, long_text(form, "reason", 2000), _audit(request, c))
    except FieldError as exc:
        return await _ceremony_page(request, c, {"reason": exc.message}, 422)
    return flash(
        see_other(f"/signature/{request.path_params['token']}"),
        "Votre refus est enregistré ; le pilote en est informé.",
    )


@signing_link
async def ceremony_delegate(request: Request) -> Response:
    c = await _ceremony(request)
    form = await read_form(request)
    try:
        await ceremony.delegate(
            c,
            text(form, "name"),
            text(form, "email", 254),
            long_text(form, "reason", 2000),
            _audit(request, c),
        )
    except FieldError as exc:
        return await _ceremony_page(
            request, c, {"delegate_" + (exc.field or "email"): exc.message}, 422
        )
    # Shown here rather than after a redirect: this link now answers 404.
    return await render(request, "signing/delegated.html", {"c": c})


@signing_link
async def ceremony_upload(request: Request) -> Response:
    c = await _ceremony(request)
    try:
        form = await read_form(body.limited(request, UPLOAD_LIMIT), max_files=1)
    except body.BodyTooLarge:
        limit_mb = UPLOAD_LIMIT // (1024 * 1024)
        message = f"Le fichier dépasse {limit_mb} Mo : il ne peut pas être reçu."
        return await _ceremony_page(request, c, {"file": message}, 413)
    upload = form.get("file")
    data = await upload.read() if upload is not None and hasattr(upload, "read") else b""
    if not data:
        return await _ceremony_page(request, c, {"file": "Choisissez le PDF signé."}, 422)
    try:
        await ceremony.upload_external(c, data, _audit(request, c))
    except FieldError as exc:
        return await _ceremony_page(request, c, {"file": exc.message}, 422)
    except Unavailable as exc:
        return await _ceremony_page(request, c, {"file": exc.message}, 503)
    return flash(
        see_other(f"/signature/{request.path_params['token']}"),
        "Votre PDF signé est accepté et enregistré.",
    )


@signing_link
async def ceremony_document(request: Request) -> Response:
    c = await _ceremony(request)
    data = await files.get(c.latest["storage_key"], c.latest["sha256"])
    done = c.request["status"] == RequestStatus.COMPLETED
    return pdf_response(_names(c.convention["reference"], done)[0], data)


@signing_link
async def ceremony_bundle(request: Request) -> Response:
    c = await _ceremony(request)
    req = c.request
    if req["status"] != RequestStatus.COMPLETED or not req["certificate_key"]:
        raise HTTPException(404)
    signed = await files.get(c.latest["storage_key"], c.latest["sha256"])
    cert = await files.get(req["certificate_key"], req["certificate_sha256"])
    return _bundle(c.convention["reference"], signed, cert)


# Verification -----------------------------------------------------------------------------------


async def verify_page(request: Request) -> Response:
    if request.method == "GET":
        return await render(request, "signing/verification.html", {"verdict": None, "errors": {}})
    # A public page that costs CPU: counted per address before the body is even read.
    budget = await auth.throttle_hit(
        "verification", auth.client_address(request), *VERIFICATIONS_PER_ADDRESS
    )
    if budget.over:
        page = await render(
            request,
            "signing/verification.html",
            {"verdict": None, "errors": {"file": budget.message}},
            status_code=429,
        )
        return auth.retry_after(page, budget)
    try:
        form = await read_form(body.limited(request, VERIFY_MAX_BYTES), max_files=1)
    except body.BodyTooLarge:
        return await render(
            request,
            "signing/verification.html",
            {"verdict": None, "errors": {"file": VERIFY_TOO_LARGE}},
            status_code=413,
        )
    upload = form.get("file")
    data = await upload.read() if upload is not None and hasattr(upload, "read") else b""
    if not data:
        return await render(
            request,
            "signing/verification.html",
            {"verdict": None, "errors": {"file": "Choisissez un fichier PDF."}},
            status_code=422,
        )
    try:
        verdict = await verification.verify(data)
    except PadesError as exc:
        return await render(
            request,
            "signing/verification.html",
            {"verdict": None, "errors": {"file": exc.message}},
            status_code=422,
        )
    return await render(
        request,
        "signing/verification.html",
        {"verdict": verdict, "errors": {}, "filename": getattr(upload, "filename", "")},
    )


routes = [
    Route("/conventions/{convention_id}/signature", manage, methods=["GET"]),
    Route("/conventions/{convention_id}/signature", create, methods=["POST"]),
    Route(
        "/conventions/{convention_id}/signature/{request_id}/annulation",
        cancel_confirm,
        methods=["GET"],
    ),
    Route(
        "/conventions/{convention_id}/signature/{request_id}/annulation", cancel, methods=["POST"]
    ),
    Route(
        "/conventions/{convention_id}/signature/{request_id}/expiration", expiry, methods=["POST"]
    ),
    Route(
        "/conventions/{convention_id}/signature/{request_id}/participants/{participant_id}"
        "/remplacement",
        replace,
        methods=["POST"],
    ),
    Route(
        "/conventions/{convention_id}/signature/{request_id}/participants/{participant_id}/relance",
        remind,
        methods=["POST"],
    ),
    Route(
        "/conventions/{convention_id}/signature/{request_id}/document.pdf",
        document,
        methods=["GET"],
    ),
    Route(
        "/conventions/{convention_id}/signature/{request_id}/certificat.pdf",
        certificate,
        methods=["GET"],
    ),
    Route(
        "/conventions/{convention_id}/signature/{request_id}/dossier.zip", bundle, methods=["GET"]
    ),
    Route("/signatures/{participant_id}", my_signature, methods=["GET"]),
]

public_routes = [
    Route("/signature/{token}", ceremony_show, methods=["GET"]),
    Route("/signature/{token}/code", ceremony_code, methods=["POST"]),
    Route("/signature/{token}/signer", ceremony_sign, methods=["POST"]),
    Route("/signature/{token}/refus", ceremony_decline, methods=["POST"]),
    Route("/signature/{token}/delegation", ceremony_delegate, methods=["POST"]),
    Route("/signature/{token}/depot", ceremony_upload, methods=["POST"]),
    Route("/signature/{token}/document.pdf", ceremony_document, methods=["GET"]),
    Route("/signature/{token}/dossier.zip", ceremony_bundle, methods=["GET"]),
    Route("/verification", verify_page, methods=["GET", "POST"]),
]
