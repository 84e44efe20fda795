"""Households pages (under `/c/{slug}/menages`): the caseload, the register, a household's file
and its tabs, the alerts inbox, a new orientation, the settings. What each member sees of a
household is decided by `access.open_household` and `visibility`; these handlers only parse,
call, render."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.conventions import service as conventions
from portal.core import clock
from portal.core.forms import (
    FieldError,
    FormResult,
    checkbox,
    checked_form,
    long_text,
    read_form,
    text,
)
from portal.core.permissions import Permission, Role, requires
from portal.core.responses import attachment_response, path_uuid, see_other
from portal.core.templating import flash, render
from portal.documents import web as documents_web
from portal.documents.service import UploadRefused
from portal.households import (
    alerts,
    consents,
    diagnostic,
    dossier,
    follow_up,
    forms,
    reads,
    register,
)
from portal.households.access import Opened, open_household
from portal.households.enums import (
    AlertKind,
    ConsentState,
    ExitReason,
    HomeType,
    Occupancy,
    OrientationSource,
    Part,
    Read,
    Step,
)
from portal.settings import get_settings
from portal.tenants import service as tenants

TABS = {
    "parcours": ("Parcours", Part.PATHWAY),
    "logement": ("Logement", Part.OCCUPANCY),
    "diagnostic": ("Diagnostic", None),
    "consentements": ("Consentements", Part.CONSENTS),
    "alertes": ("Alertes", Part.ALERTS),
    "journal": ("Journal des consultations", Part.READ_LOG),
}

LABELS = {
    "steps": {s.value: s.label for s in Step},
    "sources": {s.value: s.label for s in OrientationSource},
    "exits": {s.value: s.label for s in ExitReason},
    "occupancy": {s.value: s.label for s in Occupancy},
    "home_types": {s.value: s.label for s in HomeType},
    "consent_states": {s.value: s.label for s in ConsentState},
    "alert_kinds": {s.value: s.label for s in AlertKind},
}


def _base(request: Request) -> str:
    return f"/c/{request.state.tenant.slug}/menages"


async def _opened(request: Request) -> Opened:
    opened = await open_household(request.state.tenant, path_uuid(request, "household_id"))
    if opened is None:
        raise HTTPException(404)
    return opened


def _tabs(opened: Opened) -> list[tuple[str, str]]:
    shown = []
    for slug, (label, part) in TABS.items():
        if part is None:
            if opened.sees(Part.DIAGNOSTIC) or opened.sees(Part.SHARED_SYNTHESIS):
                shown.append((slug, label))
        elif opened.sees(part):
            shown.append((slug, label))
    return shown


# The caseload and the register -----------------------------------------------------------------


async def _caseload(
    request: Request, name: str = "", errors: dict[str, str] | None = None
) -> Response:
    ctx = request.state.tenant
    chosen = forms.filters(request.query_params)
    filters = {k: v for k, v in chosen.items() if k != "page"}
    if name:
        filters["name"] = name
    found = await register.listing(ctx, filters, chosen["page"])
    return await render(
        request,
        "households/list.html",
        {
            "listing": found,
            "chosen": chosen,
            "name": name,
            "conventions": await conventions.visible_conventions(ctx),
            "labels": LABELS,
            "errors": errors or {},
        },
        status_code=400 if errors else 200,
    )


@requires(Permission.HOUSEHOLDS_VIEW)
async def household_list(request: Request) -> Response:
    ctx = request.state.tenant
    if register.sees_register(ctx):
        return see_other(f"{_base(request)}/registre")
    return await _caseload(request)


@requires(Permission.HOUSEHOLDS_VIEW)
async def household_search(request: Request) -> Response:
    """Search by name: a POST, so that the name never appears in an address or a log."""
    if register.sees_register(request.state.tenant):
        raise HTTPException(403)  # the register has no names to search
    form = await read_form(request)
    result = FormResult.of(form)
    name = text(form, "name", 100)
    if not name:
        result.errors["name"] = "Saisissez un nom de famille."
    return await _caseload(request, name, result.errors or None)


@requires(Permission.HOUSEHOLDS_VIEW)
async def household_register(request: Request) -> Response:
    ctx = request.state.tenant
    if not register.sees_register(ctx):
        return see_other(_base(request))
    listing = None
    if ctx.role == Role.PILOT:
        chosen = forms.filters(request.query_params)
        filters = {k: v for k, v in chosen.items() if k != "page"}
        listing = await register.listing(ctx, filters, chosen["page"])
    return await render(
        request,
        "households/register.html",
        {
            "counts": await register.counts(ctx),
            "listing": listing,
            "chosen": forms.filters(request.query_params),
            "labels": LABELS,
        },
    )


# A new orientation -----------------------------------------------------------------------------


async def _orientation_page(
    request: Request, errors: dict[str, str] | None = None, values: dict[str, Any] | None = None
) -> Response:
    ctx = request.state.tenant
    return await render(
        request,
        "households/new.html",
        {
            "conventions": await conventions.visible_conventions(ctx),
            "lessors": await register.lessors(ctx),
            "labels": LABELS,
            "errors": errors or {},
            "values": values or {"oriented_on_raw": clock.today().strftime("%d/%m/%Y")},
        },
        status_code=400 if errors else 200,
    )


@requires(Permission.HOUSEHOLDS_ORIENT)
async def household_new(request: Request) -> Response:
    if request.method == "GET":
        return await _orientation_page(request)
    result = forms.orientation_form(await read_form(request))
    ctx = request.state.tenant
    household_id = None
    if result.ok:
        try:
            household_id = await register.orient(ctx, result.values)
        except FieldError as exc:
            result.errors[exc.field or "convention"] = exc.message
    if household_id is None:
        return await _orientation_page(request, result.errors, result.values)
    return flash(
        see_other(f"{_base(request)}/{household_id}"), "Ménage orienté : son dossier est ouvert."
    )


# A household's file ----------------------------------------------------------------------------


async def _file(
    request: Request,
    opened: Opened,
    tab: str,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int | None = None,
) -> Response:
    data = await dossier.tab(opened, tab)
    return await render(
        request,
        "households/file.html",
        {
            "o": opened,
            "h": opened.row,
            "tab": tab,
            "tabs": _tabs(opened),
            "labels": LABELS,
            "today": clock.today(),
            "errors": errors or {},
            "values": values or {},
            **data,
        },
        status_code=status_code or (400 if errors else 200),
    )


@requires(Permission.HOUSEHOLDS_VIEW)
async def household_file(request: Request) -> Response:
    opened = await _opened(request)
    tab = request.path_params.get("tab", "parcours")
    if tab not in dict(_tabs(opened)):
        if tab in TABS:
            raise HTTPException(403)
        raise HTTPException(404)
    return await _file(request, opened, tab)


async def _act(
    request: Request,
    opened: Opened,
    tab: str,
    result: FormResult,
    action: Any,
    done: str,
    default_field: str,
) -> Response:
    """Runs a file's action when its form is valid; shows the tab again with the errors."""
    if result.ok:
        try:
            await action()
        except FieldError as exc:
            result.errors[exc.field or default_field] = exc.message
        except PermissionError as exc:
            raise HTTPException(403) from exc
        except LookupError as exc:
            raise HTTPException(404) from exc
        else:
            return flash(see_other(f"{_base(request)}/{opened.id}/{tab}"), done)
    return await _file(request, opened, tab, result.errors, result.values)


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def household_move(request: Request) -> Response:
    opened = await _opened(request)
    result = forms.move_form(await read_form(request))
    return await _act(
        request,
        opened,
        "parcours",
        result,
        lambda: follow_up.move(opened, result.values),
        "Étape enregistrée.",
        "step",
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def household_note(request: Request) -> Response:
    opened = await _opened(request)
    result = forms.note_form(await read_form(request))
    return await _act(
        request,
        opened,
        "parcours",
        result,
        lambda: follow_up.add_note(opened, result.values["note"], result.values["personal"]),
        "Note ajoutée.",
        "note",
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def household_identity(request: Request) -> Response:
    opened = await _opened(request)
    result = forms.identity_form(await read_form(request))
    return await _act(
        request,
        opened,
        "parcours",
        result,
        lambda: register.update_identity(opened, result.values),
        "Identité mise à jour.",
        "last_name",
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def household_referent(request: Request) -> Response:
    opened = await _opened(request)
    form = await read_form(request)
    result = FormResult.of(form)
    chosen = forms.optional_uuid(result, form, "referent")
    return await _act(
        request,
        opened,
        "parcours",
        result,
        lambda: follow_up.set_referent(opened, chosen),
        "Référent enregistré.",
        "referent",
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def household_lessor(request: Request) -> Response:
    opened = await _opened(request)
    form = await read_form(request)
    result = FormResult.of(form)
    chosen = forms.optional_uuid(result, form, "lessor")
    return await _act(
        request,
        opened,
        "logement",
        result,
        lambda: follow_up.set_lessor(opened, chosen),
        "Bailleur du logement enregistré.",
        "lessor",
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def household_hold(request: Request) -> Response:
    opened = await _opened(request)
    form = await read_form(request)
    result = FormResult.of(form)
    hold, note = checkbox(form, "legal_hold"), text(form, "legal_hold_note", 200)
    return await _act(
        request,
        opened,
        "parcours",
        result,
        lambda: follow_up.set_legal_hold(opened, hold, note),
        "Conservation pour procédure judiciaire enregistrée." if hold else "Conservation levée.",
        "legal_hold_note",
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def household_occupancy(request: Request) -> Response:
    opened = await _opened(request)
    result = forms.occupancy_form(await read_form(request))
    return await _act(
        request,
        opened,
        "logement",
        result,
        lambda: follow_up.occupy(opened, result.values),
        "Statut d'occupation enregistré.",
        "status",
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def household_renewal(request: Request) -> Response:
    opened = await _opened(request)
    result = forms.occupancy_form(await read_form(request), renewal=True)
    return await _act(
        request,
        opened,
        "logement",
        result,
        lambda: follow_up.renew_subletting(opened, result.values),
        "Sous-location renouvelée.",
        "ends_on",
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def household_gla(request: Request) -> Response:
    opened = await _opened(request)
    form = await read_form(request)
    result = FormResult.of(form)
    since = None
    if checkbox(form, "gla"):
        since = forms.read_day(result, form, "gla_since")
    return await _act(
        request,
        opened,
        "logement",
        result,
        lambda: follow_up.set_gla(opened, since),
        "Gestion locative adaptée enregistrée.",
        "gla_since",
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def household_procedure(request: Request) -> Response:
    opened = await _opened(request)
    result = forms.procedure_form(await read_form(request))
    return await _act(
        request,
        opened,
        "logement",
        result,
        lambda: follow_up.suspend_procedure(opened, result.values),
        "Suspension de procédure enregistrée : un rappel précédera sa fin.",
        "suspended_until",
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def household_diagnostic(request: Request) -> Response:
    opened = await _opened(request)
    codes = [s.code for s in await diagnostic.grid(request.state.tenant)]
    result = forms.diagnostic_form(await read_form(request), codes)
    return await _act(
        request,
        opened,
        "diagnostic",
        result,
        lambda: diagnostic.save_sections(opened, result.values["texts"]),
        "Diagnostic enregistré.",
        "diagnostic",
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def household_consent(request: Request) -> Response:
    opened = await _opened(request)
    if not opened.follows:
        raise HTTPException(403)
    settings = get_settings()
    try:
        received = await documents_web.receive_upload(
            request, "evidence", settings.upload_max_bytes
        )
    except UploadRefused as exc:
        return await _file(
            request,
            opened,
            "consentements",
            {exc.field if exc.field != "file" else "evidence": exc.message},
            status_code=exc.status_code,
        )
    raw = received.fields
    try:
        result = forms.consent_form(
            checked_form(raw.items()),
            [v for k, v in raw.items() if k.startswith("recipient-") and v],
            [v for k, v in raw.items() if k.startswith("section-") and v],
        )
        if not result.ok:
            return await _file(request, opened, "consentements", result.errors, result.values)
        evidence = received.file if received.file and received.file.size else None
        await consents.record(opened, result.values, evidence)
    except FieldError as exc:
        return await _file(
            request, opened, "consentements", {exc.field or "purpose": exc.message}, result.values
        )
    except UploadRefused as exc:
        return await _file(
            request,
            opened,
            "consentements",
            {exc.field: exc.message},
            result.values,
            status_code=exc.status_code,
        )
    finally:
        if received.file:
            received.file.discard()  # kept by nobody: its bytes went to storage sealed, or not
    return flash(
        see_other(f"{_base(request)}/{opened.id}/consentements"), "Consentement enregistré."
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def consent_withdraw(request: Request) -> Response:
    opened = await _opened(request)
    consent_id = path_uuid(request, "consent_id")
    form = await read_form(request)
    result = FormResult.of(form)
    on = forms.read_day(result, form, "withdrawn_on", required=False)
    return await _act(
        request,
        opened,
        "consentements",
        result,
        lambda: consents.withdraw(opened, consent_id, on or clock.today()),
        "Consentement retiré : plus rien n'est transmis sous ce consentement.",
        "withdrawn_on",
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def consent_transmit(request: Request) -> Response:
    opened = await _opened(request)
    consent_id = path_uuid(request, "consent_id")
    result = FormResult.of(await read_form(request))
    return await _act(
        request,
        opened,
        "consentements",
        result,
        lambda: consents.transmit(opened, consent_id),
        "Synthèse logement transmise au bailleur.",
        "consent",
    )


@requires(Permission.HOUSEHOLDS_VIEW)
async def consent_evidence(request: Request) -> Response:
    opened = await _opened(request)
    log = reads.Reads(request.state.tenant)
    try:
        filename, content_type, data = await consents.evidence(
            opened, path_uuid(request, "consent_id"), log
        )
    except PermissionError as exc:
        raise HTTPException(403) from exc
    except LookupError as exc:
        raise HTTPException(404) from exc
    await log.flush()
    return attachment_response(filename, data, content_type)


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def household_alert(request: Request) -> Response:
    opened = await _opened(request)
    result = forms.alert_form(await read_form(request))
    return await _act(
        request,
        opened,
        "alertes",
        result,
        lambda: alerts.raise_alert(opened, result.values),
        "Alerte envoyée : le partenaire est prévenu.",
        "kind",
    )


@requires(Permission.HOUSEHOLDS_VIEW)
async def household_log_export(request: Request) -> Response:
    """One household's read log, for a subject-access request (its association's manager)."""
    opened = await _opened(request)
    if not opened.sees(Part.READ_LOG):
        raise HTTPException(403)
    ctx = request.state.tenant
    rows = await reads.log_of(ctx, opened.id, complete=True)
    log = reads.Reads(ctx)
    log.add(opened.id, opened.pseudonym, Read.READ_LOG, "export")
    await log.flush()
    orgs = {o["id"]: o["name"] for o in await tenants.organisations(ctx)}
    body = reads.as_csv(rows, await register.referent_names(ctx), orgs)
    return attachment_response(
        f"consultations-{opened.pseudonym}.csv", "\ufeff" + body, "text/csv; charset=utf-8"
    )


# The alerts inbox ------------------------------------------------------------------------------


async def _inbox(request: Request, errors: dict[str, str] | None = None) -> Response:
    ctx = request.state.tenant
    log = reads.Reads(ctx)
    try:
        rows = await alerts.inbox(ctx, log)
    except PermissionError as exc:
        raise HTTPException(403) from exc
    await log.flush()
    return await render(
        request,
        "households/alerts.html",
        {"alerts": rows, "names": await register.referent_names(ctx), "errors": errors or {}},
        status_code=400 if errors else 200,
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def alert_inbox(request: Request) -> Response:
    return await _inbox(request)


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def alert_acknowledge(request: Request) -> Response:
    await read_form(request)
    try:
        await alerts.acknowledge(request.state.tenant, path_uuid(request, "alert_id"))
    except LookupError as exc:
        raise HTTPException(404) from exc
    return flash(
        see_other(f"{_base(request)}/alertes"), "Alerte prise en compte : ses rappels s'arrêtent."
    )


@requires(Permission.HOUSEHOLDS_FOLLOW)
async def alert_resolve(request: Request) -> Response:
    form = await read_form(request)
    try:
        await alerts.resolve(
            request.state.tenant,
            path_uuid(request, "alert_id"),
            long_text(form, "resolution", 2000),
        )
    except LookupError as exc:
        raise HTTPException(404) from exc
    except FieldError as exc:
        return await _inbox(request, {f"resolution-{request.path_params['alert_id']}": exc.message})
    return flash(see_other(f"{_base(request)}/alertes"), "Alerte levée.")


# Settings --------------------------------------------------------------------------------------


@requires(Permission.HOUSEHOLDS_SETTINGS)
async def household_settings(request: Request) -> Response:
    ctx = request.state.tenant
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    if request.method == "POST":
        result = forms.settings_form(await read_form(request))
        if result.ok:
            await alerts.save_ack_days(ctx, result.values["alert_ack_days"])
            return flash(
                see_other(f"{_base(request)}/reglages"), "Réglages des ménages enregistrés."
            )
        errors, values = result.errors, result.values
    return await render(
        request,
        "households/settings.html",
        {
            "ack_days": await alerts.ack_days(ctx),
            "grid": await diagnostic.grid(ctx),
            "errors": errors,
            "values": values,
        },
        status_code=400 if errors else 200,
    )


@requires(Permission.HOUSEHOLDS_SETTINGS)
async def household_grid(request: Request) -> Response:
    ctx = request.state.tenant
    result = forms.grid_form(await read_form(request), await diagnostic.grid(ctx))
    if result.ok:
        try:
            await diagnostic.save_grid(ctx, result.values["sections"])
        except FieldError as exc:
            result.errors[exc.field or "sections"] = exc.message
        else:
            return flash(
                see_other(f"{_base(request)}/reglages"), "Grille de diagnostic enregistrée."
            )
    return await render(
        request,
        "households/settings.html",
        {
            "ack_days": await alerts.ack_days(ctx),
            "grid": await diagnostic.grid(ctx),
            "errors": result.errors,
            "values": {},
        },
        status_code=400,
    )


routes = [
    Route("/menages", household_list, methods=["GET"], name="household_list"),
    Route("/menages", household_search, methods=["POST"], name="household_search"),
    Route("/menages/registre", household_register, methods=["GET"], name="household_register"),
    Route("/menages/nouveau", household_new, methods=["GET", "POST"], name="household_new"),
    Route("/menages/alertes", alert_inbox, methods=["GET"], name="alert_inbox"),
    Route(
        "/menages/alertes/{alert_id}/prise-en-compte",
        alert_acknowledge,
        methods=["POST"],
        name="alert_acknowledge",
    ),
    Route(
        "/menages/alertes/{alert_id}/levee", alert_resolve, methods=["POST"], name="alert_resolve"
    ),
    Route(
        "/menages/reglages", household_settings, methods=["GET", "POST"], name="household_settings"
    ),
    Route("/menages/reglages/grille", household_grid, methods=["POST"], name="household_grid"),
    Route("/menages/{household_id}", household_file, methods=["GET"], name="household_file"),
    Route(
        "/menages/{household_id}/journal.csv",
        household_log_export,
        methods=["GET"],
        name="household_log_export",
    ),
    Route("/menages/{household_id}/{tab}", household_file, methods=["GET"], name="household_tab"),
    Route(
        "/menages/{household_id}/parcours", household_move, methods=["POST"], name="household_move"
    ),
    Route("/menages/{household_id}/notes", household_note, methods=["POST"], name="household_note"),
    Route(
        "/menages/{household_id}/identite",
        household_identity,
        methods=["POST"],
        name="household_identity",
    ),
    Route(
        "/menages/{household_id}/referent",
        household_referent,
        methods=["POST"],
        name="household_referent",
    ),
    Route(
        "/menages/{household_id}/bailleur",
        household_lessor,
        methods=["POST"],
        name="household_lessor",
    ),
    Route(
        "/menages/{household_id}/conservation",
        household_hold,
        methods=["POST"],
        name="household_hold",
    ),
    Route(
        "/menages/{household_id}/logement",
        household_occupancy,
        methods=["POST"],
        name="household_occupancy",
    ),
    Route(
        "/menages/{household_id}/logement/renouvellement",
        household_renewal,
        methods=["POST"],
        name="household_renewal",
    ),
    Route("/menages/{household_id}/gla", household_gla, methods=["POST"], name="household_gla"),
    Route(
        "/menages/{household_id}/procedures",
        household_procedure,
        methods=["POST"],
        name="household_procedure",
    ),
    Route(
        "/menages/{household_id}/diagnostic",
        household_diagnostic,
        methods=["POST"],
        name="household_diagnostic",
    ),
    Route(
        "/menages/{household_id}/consentements",
        household_consent,
        methods=["POST"],
        name="household_consent",
    ),
    Route(
        "/menages/{household_id}/consentements/{consent_id}/retrait",
        consent_withdraw,
        methods=["POST"],
        name="consent_withdraw",
    ),
    Route(
        "/menages/{household_id}/consentements/{consent_id}/transmission",
        consent_transmit,
        methods=["POST"],
        name="consent_transmit",
    ),
    Route(
        "/menages/{household_id}/consentements/{consent_id}/autorisation",
        consent_evidence,
        methods=["GET"],
        name="consent_evidence",
    ),
    Route(
        "/menages/{household_id}/alertes", household_alert, methods=["POST"], name="household_alert"
    ),
]
