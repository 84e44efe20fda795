"""Reconciliation of paid amounts with the conventions' budgets, and an organisation's statement
(PDF)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from portal.core.permissions import Permission, requires
from portal.core.responses import path_uuid
from portal.core.storage import quote_filename
from portal.core.templating import render
from portal.payments import access, reconciliation, statement


@requires(Permission.PAYMENTS_VIEW)
async def reconciliation_page(request: Request) -> Response:
    ctx = request.state.tenant
    period = reconciliation.parse_period(request.query_params.get("periode", ""))
    found = await reconciliation.reconcile(ctx, period)
    view = await access.sight_of(ctx)
    return await render(
        request,
        "payments/reconciliation.html",
        {
            "r": found,
            "total": reconciliation.totals(found.conventions),
            "statement_opens": lambda organisation_id: access.may_open_statement(
                view, organisation_id
            ),
        },
    )


@requires(Permission.PAYMENTS_VIEW)
async def statement_pdf(request: Request) -> Response:
    ctx = request.state.tenant
    try:
        found = await statement.statement(ctx, path_uuid(request, "organisation_id"))
    except LookupError as exc:
        raise HTTPException(404) from exc
    data = await statement.pdf(found, ctx.name)
    name = f"releve-versements-{found.organisation['siret']}.pdf"
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "content-disposition": f"attachment; filename*=UTF-8''{quote_filename(name)}",
            "cache-control": "private, no-store",
        },
    )
