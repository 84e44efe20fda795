"""Conventions of a consortium (under `/c/{slug}/conventions`). Every route on one convention is
declared with `@on_convention(permission)`, which loads it through the visibility check (404
when the member may not see it); `tests/conventions/test_visibility.py` checks none is missing."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.conventions import (
    annexes,
    collaboration,
    drafting,
    editing,
    forms,
    service,
    versions,
    views,
)
from portal.conventions.collaboration import EditConflict
from portal.conventions.web import on_convention, opened_for
from portal.core.actor import Actor
from portal.core.forms import FieldError, checked_form, is_digits, long_text, read_form, text
from portal.core.money import cents_input
from portal.core.outage import Unavailable
from portal.core.permissions import Permission, requires
from portal.core.responses import path_uuid, pdf_response, see_other
from portal.core.templating import flash, render
from portal.documents import web as documents_web
from portal.documents.service import UploadRefused
from portal.settings import get_settings


def _list_url(request: Request) -> str:
    return f"/c/{request.state.tenant.slug}/conventions"


# List and creation ---------------------------------------------------------------------------


async def _list_page(
    request: Request, errors: dict[str, str] | None = None, values: dict[str, Any] | None = None
) -> Response:
    return await render(
        request,
        "conventions/list.html",
        {
            "conventions": await service.visible_conventions(request.state.tenant),
            "errors": errors or {},
            "values": values or {},
        },
        status_code=400 if errors else 200,
    )


@requires(Permission.CONVENTIONS_VIEW)
async def convention_list(request: Request) -> Response:
    return await _list_page(request)


@requires(Permission.CONVENTIONS_EDIT)
async def convention_create(request: Request) -> Response:
    form = await read_form(request)
    kind, title = text(form, "kind", 20), text(form, "title")
    try:
        convention_id = await drafting.create(
            Actor.of_request(request), request.state.tenant, request.state.user, kind, title
        )
    except FieldError as exc:
        return await _list_page(
            request, {exc.field or "title": exc.message}, {"kind": kind, "title": title}
        )
    return flash(
        see_other(f"{_list_url(request)}/{convention_id}"),
        "Convention créée à partir du modèle : complétez les parties, les dates et le budget.",
    )


# One convention ------------------------------------------------------------------------------


async def _show(
    request: Request,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 400,
) -> Response:
    opened = opened_for(request)
    detail = await views.detail(opened)
    row = detail["convention"]
    info = values or {
        **row,
        **{
            k: cents_input(row[k])
            for k in ("unit_diagnostic_cents", "unit_accompaniment_cents", "unit_gla_cents")
        },
    }
    return await render(
        request,
        "conventions/show.html",
        {"d": detail, "c": opened, "info": info, "errors": errors or {}},
        status_code=status_code if errors else 200,
    )


@on_convention(Permission.CONVENTIONS_VIEW)
async def convention_show(request: Request) -> Response:
    return await _show(request)


def _back(request: Request, anchor: str = "") -> str:
    return opened_for(request).base + (f"#{anchor}" if anchor else "")


@on_convention(Permission.CONVENTIONS_EDIT)
async def info_update(request: Request) -> Response:
    form = await read_form(request)
    result = forms.info_form(form)
    opened = opened_for(request)
    values = result.values
    if result.ok:
        try:
            await editing.update_info(
                Actor.of_request(request), opened, request.state.user, values, forms.revision(form)
            )
        except FieldError as exc:
            result.errors[exc.field or "title"] = exc.message
    if not result.ok:
        raw = {k: text(form, k, 200) for k in form.keys() if k != "csrf_token"}
        return await _show(
            request, result.errors, {**values, **raw, "revision": opened.row["revision"]}
        )
    return flash(see_other(_back(request, "informations")), "Informations enregistrées.")


@on_convention(Permission.CONVENTIONS_EDIT)
async def party_add(request: Request) -> Response:
    result = forms.party_form(await read_form(request), with_organisation=True)
    opened = opened_for(request)
    if result.ok:
        try:
            await editing.add_party(
                Actor.of_request(request), opened, request.state.user, result.values
            )
        except FieldError as exc:
            result.errors[exc.field or "organisation"] = exc.message
    if not result.ok:
        return await _show(request, {f"party_{k}": v for k, v in result.errors.items()})
    return flash(see_other(_back(request, "parties")), "Partie ajoutée.")


@on_convention(Permission.CONVENTIONS_EDIT)
async def party_update(request: Request) -> Response:
    result = forms.party_form(await read_form(request), with_organisation=False)
    party_id = path_uuid(request, "party_id")
    if result.ok:
        try:
            await editing.update_party(
                Actor.of_request(request),
                opened_for(request),
                request.state.user,
                party_id,
                result.values,
            )
        except FieldError as exc:
            result.errors[exc.field or "role"] = exc.message
    if not result.ok:
        return await _show(request, {f"party_{party_id}_{k}": v for k, v in result.errors.items()})
    return flash(see_other(_back(request, "parties")), "Partie mise à jour.")


@on_convention(Permission.CONVENTIONS_EDIT)
async def party_remove(request: Request) -> Response:
    try:
        await editing.remove_party(
            Actor.of_request(request),
            opened_for(request),
            request.state.user,
            path_uuid(request, "party_id"),
        )
    except FieldError as exc:
        return await _show(request, {"status": exc.message})
    return flash(see_other(_back(request, "parties")), "Partie retirée.")


@on_convention(Permission.CONVENTIONS_EDIT)
async def indicator_add(request: Request) -> Response:
    result = forms.indicator_form(await read_form(request))
    if result.ok:
        try:
            await editing.add_indicator(
                Actor.of_request(request), opened_for(request), request.state.user, result.values
            )
        except FieldError as exc:
            result.errors[exc.field or "label"] = exc.message
    if not result.ok:
        return await _show(request, {f"indicator_{k}": v for k, v in result.errors.items()})
    return flash(see_other(_back(request, "indicateurs")), "Indicateur ajouté.")


@on_convention(Permission.CONVENTIONS_EDIT)
async def indicator_remove(request: Request) -> Response:
    try:
        await editing.remove_indicator(
            Actor.of_request(request),
            opened_for(request),
            request.state.user,
            path_uuid(request, "indicator_id"),
        )
    except FieldError as exc:
        return await _show(request, {"status": exc.message})
    return flash(see_other(_back(request, "indicateurs")), "Indicateur retiré.")


@on_convention(Permission.CONVENTIONS_EDIT)
async def status_change(request: Request) -> Response:
    form = await read_form(request)
    try:
        message = await versions.change_status(
            Actor.of_request(request),
            opened_for(request),
            request.state.user,
            text(form, "status", 20),
        )
    except FieldError as exc:
        return await _show(request, {"status": exc.message}, status_code=409)
    except Unavailable as exc:
        return await _show(request, {"status": exc.message}, status_code=503)
    return flash(see_other(_back(request)), message)


@on_convention(Permission.CONVENTIONS_EDIT)
async def amendment_start(request: Request) -> Response:
    try:
        new_id = await versions.start_amendment(
            Actor.of_request(request), opened_for(request), request.state.user
        )
    except FieldError as exc:
        return await _show(request, {"origin": exc.message}, status_code=409)
    return flash(see_other(f"{_list_url(request)}/{new_id}"), "Avenant ouvert en brouillon.")


@on_convention(Permission.CONVENTIONS_EDIT)
async def renewal_start(request: Request) -> Response:
    raw = text(await read_form(request), "duration_months", 4)
    try:
        new_id = await versions.start_renewal(
            Actor.of_request(request),
            opened_for(request),
            request.state.user,
            int(raw) if is_digits(raw) else 0,
        )
    except FieldError as exc:
        return await _show(request, {"renewal": exc.message}, status_code=409)
    return flash(see_other(f"{_list_url(request)}/{new_id}"), "Renouvellement ouvert en brouillon.")


# Budget --------------------------------------------------------------------------------------


async def _budget(
    request: Request, errors: dict[str, str] | None = None, values: dict[str, Any] | None = None
) -> Response:
    return await render(
        request,
        "conventions/budget.html",
        {
            "b": await views.budget_page(opened_for(request)),
            "c": opened_for(request),
            "errors": errors or {},
            "values": values or {},
        },
        status_code=400 if errors else 200,
    )


@on_convention(Permission.CONVENTIONS_VIEW)
async def budget_show(request: Request) -> Response:
    return await _budget(request)


@on_convention(Permission.CONVENTIONS_EDIT)
async def budget_line_add(request: Request) -> Response:
    form = await read_form(request)
    result = forms.budget_line_form(form)
    side = result.values["side"]
    if result.ok:
        try:
            await editing.add_budget_line(
                Actor.of_request(request), opened_for(request), request.state.user, result.values
            )
        except FieldError as exc:
            result.errors[exc.field or "label"] = exc.message
    if "side" in result.errors:  # a hidden field tampered with: no form to show it in
        raise HTTPException(400, result.errors["side"])
    if not result.ok:
        raw = {k: text(form, k) for k in form.keys() if k != "csrf_token"}
        return await _budget(
            request, {f"{side}_{k}": v for k, v in result.errors.items()}, {side: raw}
        )
    return flash(see_other(f"{opened_for(request).base}/budget#{side}"), "Ligne ajoutée au budget.")


@on_convention(Permission.CONVENTIONS_EDIT)
async def budget_line_remove(request: Request) -> Response:
    try:
        await editing.remove_budget_line(
            Actor.of_request(request),
            opened_for(request),
            request.state.user,
            path_uuid(request, "line_id"),
        )
    except FieldError as exc:
        return await _budget(request, {"status": exc.message})
    return flash(see_other(f"{opened_for(request).base}/budget"), "Ligne retirée du budget.")


# Articles, comments, proposals ---------------------------------------------------------------


async def _article(
    request: Request,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
    conflict: dict[str, Any] | None = None,
    status_code: int = 400,
) -> Response:
    page = await collaboration.article_page(opened_for(request), path_uuid(request, "article_id"))
    if page is None:
        raise HTTPException(404)
    return await render(
        request,
        "conventions/article.html",
        {
            "p": page,
            "c": opened_for(request),
            "errors": errors or {},
            "values": values or {},
            "conflict": conflict,
        },
        status_code=status_code if errors or conflict else 200,
    )


@on_convention(Permission.CONVENTIONS_VIEW)
async def article_show(request: Request) -> Response:
    return await _article(request)


@on_convention(Permission.CONVENTIONS_EDIT)
async def article_add(request: Request) -> Response:
    result = forms.article_form(await read_form(request))
    if result.ok:
        try:
            article_id = await collaboration.add_article(
                Actor.of_request(request), opened_for(request), request.state.user, **result.values
            )
        except FieldError as exc:
            result.errors[exc.field or "title"] = exc.message
    if not result.ok:
        return await _show(request, {f"article_{k}": v for k, v in result.errors.items()})
    return flash(see_other(f"{opened_for(request).base}/articles/{article_id}"), "Article ajouté.")


@on_convention(Permission.CONVENTIONS_EDIT)
async def article_save(request: Request) -> Response:
    form = await read_form(request)
    result = forms.article_form(form)
    opened = opened_for(request)
    article_id = path_uuid(request, "article_id")
    if result.ok:
        try:
            await collaboration.save_article(
                Actor.of_request(request),
                opened,
                request.state.user,
                article_id,
                result.values["title"],
                result.values["body"],
                forms.revision(form),
            )
        except EditConflict as exc:
            return await _article(
                request,
                values=result.values,
                conflict={**exc.current, "mine": result.values},
                status_code=409,
            )
        except FieldError as exc:
            result.errors[exc.field or "body"] = exc.message
    if not result.ok:
        return await _article(request, result.errors, result.values)
    return flash(see_other(f"{opened.base}/articles/{article_id}"), "Article enregistré.")


@on_convention(Permission.CONVENTIONS_EDIT)
async def article_move(request: Request) -> Response:
    form = await read_form(request)
    try:
        await collaboration.move_article(
            Actor.of_request(request),
            opened_for(request),
            request.state.user,
            path_uuid(request, "article_id"),
            "up" if text(form, "direction", 10) == "up" else "down",
        )
    except FieldError as exc:
        return await _show(request, {"status": exc.message})
    return flash(see_other(_back(request, "articles")), "Article déplacé.")


@on_convention(Permission.CONVENTIONS_EDIT)
async def article_remove(request: Request) -> Response:
    try:
        await collaboration.remove_article(
            Actor.of_request(request),
            opened_for(request),
            request.state.user,
            path_uuid(request, "article_id"),
        )
    except FieldError as exc:
        return await _show(request, {"status": exc.message})
    return flash(
        see_other(_back(request, "articles")), "Article supprimé (il reste dans l'historique)."
    )


@on_convention(Permission.CONVENTIONS_COMMENT)
async def comment_add(request: Request) -> Response:
    form = await read_form(request)
    body = long_text(form, "body", 4000)
    raw_thread = text(form, "thread", 40)
    try:
        thread = uuid.UUID(raw_thread) if raw_thread else None
    except ValueError as exc:
        raise HTTPException(404) from exc
    article_id = path_uuid(request, "article_id")
    try:
        comment_id = await collaboration.add_comment(
            Actor.of_request(request),
            opened_for(request),
            request.state.user,
            article_id,
            body,
            thread,
        )
    except FieldError as exc:
        key = f"reply_{raw_thread}" if raw_thread else "comment"
        return await _article(request, {key: exc.message}, {key: body})
    return flash(
        see_other(f"{opened_for(request).base}/articles/{article_id}#commentaire-{comment_id}"),
        "Commentaire publié.",
    )


@on_convention(Permission.CONVENTIONS_COMMENT)
async def thread_resolve(request: Request) -> Response:
    opened = opened_for(request)
    comment_id = path_uuid(request, "comment_id")
    article_id = path_uuid(request, "article_id")
    await collaboration.resolve_thread(opened, request.state.user, comment_id)
    return flash(
        see_other(f"{opened.base}/articles/{article_id}#commentaire-{comment_id}"),
        "Discussion marquée comme résolue.",
    )


@on_convention(Permission.CONVENTIONS_COMMENT)
async def suggestion_add(request: Request) -> Response:
    form = await read_form(request)
    result = forms.article_form(form)
    article_id = path_uuid(request, "article_id")
    explanation = text(form, "explanation", 2000)
    try:
        refused = form.refusal("suggestion_body")
        if refused:
            raise refused
        await collaboration.suggest(
            Actor.of_request(request),
            opened_for(request),
            request.state.user,
            article_id,
            result.values["title"],
            result.values["body"],
            explanation,
        )
    except FieldError as exc:
        return await _article(
            request,
            {exc.field or "suggestion_body": exc.message},
            {"suggestion": {**result.values, "explanation": explanation}},
        )
    return flash(
        see_other(f"{opened_for(request).base}/articles/{article_id}#propositions"),
        "Proposition envoyée au pilote.",
    )


@on_convention(Permission.CONVENTIONS_EDIT)
async def suggestion_decide(request: Request) -> Response:
    form = await read_form(request)
    decision = text(form, "decision", 10)
    if decision not in {"accept", "reject"}:
        return await _article(request, {"decision": "Choisissez d'accepter ou de rejeter."})
    try:
        await collaboration.decide(
            Actor.of_request(request),
            opened_for(request),
            request.state.user,
            path_uuid(request, "suggestion_id"),
            decision == "accept",
            text(form, "note", 2000),
        )
    except FieldError as exc:
        # Shown above the proposals: the page has no other place for this form's errors.
        return await _article(request, {"decision": exc.message}, status_code=409)
    verdict = "acceptée : l'article est modifié" if decision == "accept" else "rejetée"
    return flash(
        see_other(f"{opened_for(request).base}/articles/{path_uuid(request, 'article_id')}"),
        f"Proposition {verdict}.",
    )


# Annexes, versions, PDF, history -------------------------------------------------------------


@on_convention(Permission.CONVENTIONS_EDIT)
async def annex_upload(request: Request) -> Response:
    settings = get_settings()
    try:
        received = await documents_web.receive_upload(request, "file", settings.upload_max_bytes)
        try:
            title = text(checked_form(received.fields.items()), "title")
        except FieldError as exc:
            if received.file:
                received.file.discard()
            raise UploadRefused(exc.message, "title") from exc
        if received.file is None or received.file.size == 0:
            if received.file:
                received.file.discard()
            raise UploadRefused("Choisissez le fichier PDF de l'annexe.")
        await annexes.add_annex(
            Actor.of_request(request),
            opened_for(request),
            request.state.user,
            title,
            received.file,
        )
    except UploadRefused as exc:
        errors = {f"annex_{exc.field}": exc.message}
        return await _show(request, errors, status_code=exc.status_code)
    except FieldError as exc:
        return await _show(request, {"annex_file": exc.message})
    except Unavailable as exc:
        return await _show(request, {"annex_file": exc.message}, status_code=503)
    return flash(see_other(_back(request, "annexes")), "Annexe ajoutée.")


@on_convention(Permission.CONVENTIONS_EDIT)
async def annex_remove(request: Request) -> Response:
    try:
        await annexes.remove_annex(
            Actor.of_request(request),
            opened_for(request),
            request.state.user,
            path_uuid(request, "annex_id"),
        )
    except FieldError as exc:
        return await _show(request, {"annex_file": exc.message})
    return flash(see_other(_back(request, "annexes")), "Annexe retirée.")


@on_convention(Permission.CONVENTIONS_VIEW)
async def annex_download(request: Request) -> Response:
    annex, chunks = await annexes.annex_chunks(opened_for(request), path_uuid(request, "annex_id"))
    return pdf_response(annex["filename"], chunks)


@on_convention(Permission.CONVENTIONS_VIEW)
async def draft_pdf(request: Request) -> Response:
    return pdf_response(*await versions.version_pdf(opened_for(request), None))


@on_convention(Permission.CONVENTIONS_VIEW)
async def version_pdf(request: Request) -> Response:
    raw = request.path_params["number"]
    if not is_digits(raw):
        raise HTTPException(404)
    return pdf_response(*await versions.version_pdf(opened_for(request), int(raw)))


@on_convention(Permission.CONVENTIONS_VIEW)
async def history(request: Request) -> Response:
    opened = opened_for(request)
    return await render(
        request,
        "conventions/history.html",
        {"c": opened, "events": await versions.history(opened)},
    )


@on_convention(Permission.CONVENTIONS_VIEW)
async def compare(request: Request) -> Response:
    opened = opened_for(request)
    taken = await versions.versions(opened)
    default_before = str(taken[0]["number"]) if taken else "signee"
    before = request.query_params.get("de", default_before)
    after = request.query_params.get("a", "courant")
    found = await versions.comparison(opened, before, after)
    return await render(
        request,
        "conventions/compare.html",
        {
            "c": opened,
            "versions": taken,
            "before": before,
            "after": after,
            "result": found,
        },
        status_code=200 if found else 404,
    )


routes = [
    Route("/conventions", convention_list, methods=["GET"], name="convention_list"),
    Route("/conventions", convention_create, methods=["POST"], name="convention_create"),
    Route("/conventions/{convention_id}", convention_show, methods=["GET"]),
    Route("/conventions/{convention_id}/informations", info_update, methods=["POST"]),
    Route("/conventions/{convention_id}/statut", status_change, methods=["POST"]),
    Route("/conventions/{convention_id}/avenant", amendment_start, methods=["POST"]),
    Route("/conventions/{convention_id}/renouvellement", renewal_start, methods=["POST"]),
    Route("/conventions/{convention_id}/parties", party_add, methods=["POST"]),
    Route("/conventions/{convention_id}/parties/{party_id}", party_update, methods=["POST"]),
    Route(
        "/conventions/{convention_id}/parties/{party_id}/suppression",
        party_remove,
        methods=["POST"],
    ),
    Route("/conventions/{convention_id}/indicateurs", indicator_add, methods=["POST"]),
    Route(
        "/conventions/{convention_id}/indicateurs/{indicator_id}/suppression",
        indicator_remove,
        methods=["POST"],
    ),
    Route("/conventions/{convention_id}/budget", budget_show, methods=["GET"]),
    Route("/conventions/{convention_id}/budget/lignes", budget_line_add, methods=["POST"]),
    Route(
        "/conventions/{convention_id}/budget/lignes/{line_id}/suppression",
        budget_line_remove,
        methods=["POST"],
    ),
    Route("/conventions/{convention_id}/articles", article_add, methods=["POST"]),
    Route("/conventions/{convention_id}/articles/{article_id}", article_show, methods=["GET"]),
    Route("/conventions/{convention_id}/articles/{article_id}", article_save, methods=["POST"]),
    Route(
        "/conventions/{convention_id}/articles/{article_id}/deplacement",
        article_move,
        methods=["POST"],
    ),
    Route(
        "/conventions/{convention_id}/articles/{article_id}/suppression",
        article_remove,
        methods=["POST"],
    ),
    Route(
        "/conventions/{convention_id}/articles/{article_id}/commentaires",
        comment_add,
        methods=["POST"],
    ),
    Route(
        "/conventions/{convention_id}/articles/{article_id}/commentaires/{comment_id}/resolution",
        thread_resolve,
        methods=["POST"],
    ),
    Route(
        "/conventions/{convention_id}/articles/{article_id}/propositions",
        suggestion_add,
        methods=["POST"],
    ),
    Route(
        "/conventions/{convention_id}/articles/{article_id}/propositions/{suggestion_id}",
        suggestion_decide,
        methods=["POST"],
    ),
    Route("/conventions/{convention_id}/annexes", annex_upload, methods=["POST"]),
    Route("/conventions/{convention_id}/annexes/{annex_id}", annex_download, methods=["GET"]),
    Route(
        "/conventions/{convention_id}/annexes/{annex_id}/suppression",
        annex_remove,
        methods=["POST"],
    ),
    Route("/conventions/{convention_id}/projet.pdf", draft_pdf, methods=["GET"]),
    Route("/conventions/{convention_id}/versions/{number}.pdf", version_pdf, methods=["GET"]),
    Route("/conventions/{convention_id}/historique", history, methods=["GET"]),
    Route("/conventions/{convention_id}/comparaison", compare, methods=["GET"]),
]
