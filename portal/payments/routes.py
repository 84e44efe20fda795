"""Payments of a consortium (under `/c/{slug}/versements`): the lines (échéances) and their
filters, schedules, one line with its payments and history, reconciliation, exports and the
statement of an organisation. Routes parse, call one service, render or redirect.

The handlers live in `line_routes`, `schedule_routes`, `report_routes` and `export_routes`;
this one table keeps the order Starlette matches paths in."""

from __future__ import annotations

from starlette.routing import Route

from portal.payments import export_routes, line_routes, report_routes, schedule_routes

routes = [
    Route("/versements", line_routes.payment_list, methods=["GET"], name="payment_list"),
    Route(
        "/versements/nouveau",
        schedule_routes.schedule_new,
        methods=["GET"],
        name="payment_schedule_new",
    ),
    Route(
        "/versements/nouveau",
        schedule_routes.schedule_create,
        methods=["POST"],
        name="payment_schedule_create",
    ),
    Route(
        "/versements/echeanciers/{schedule_id}",
        schedule_routes.schedule_show,
        methods=["GET"],
        name="payment_schedule",
    ),
    Route(
        "/versements/echeanciers/{schedule_id}/modifier",
        schedule_routes.schedule_edit,
        methods=["GET", "POST"],
        name="payment_schedule_edit",
    ),
    Route(
        "/versements/lignes/{line_id}", line_routes.line_show, methods=["GET"], name="payment_line"
    ),
    Route(
        "/versements/lignes/{line_id}/versement",
        line_routes.payment_record,
        methods=["POST"],
        name="payment_record",
    ),
    Route(
        "/versements/lignes/{line_id}/demande",
        line_routes.request_record,
        methods=["POST"],
        name="payment_request",
    ),
    Route(
        "/versements/lignes/{line_id}/condition",
        line_routes.condition_met,
        methods=["POST"],
        name="payment_condition",
    ),
    Route(
        "/versements/lignes/{line_id}/declaration",
        line_routes.declaration,
        methods=["POST"],
        name="payment_declaration",
    ),
    Route(
        "/versements/lignes/{line_id}/versements/{payment_id}/annulation",
        line_routes.payment_cancel,
        methods=["POST"],
        name="payment_cancel",
    ),
    Route(
        "/versements/rapprochement",
        report_routes.reconciliation_page,
        methods=["GET"],
        name="payment_reconciliation",
    ),
    Route(
        "/versements/releves/{organisation_id}",
        report_routes.statement_pdf,
        methods=["GET"],
        name="payment_statement",
    ),
    Route(
        "/versements/exports", export_routes.exports_page, methods=["GET"], name="payment_exports"
    ),
    Route(
        "/versements/exports",
        export_routes.export_request,
        methods=["POST"],
        name="payment_export_request",
    ),
    Route(
        "/versements/exports/modeles/{model_id}/suppression",
        export_routes.export_model_delete,
        methods=["POST"],
        name="payment_export_model_delete",
    ),
    Route(
        "/versements/exports/modeles/{model_id}/partage",
        export_routes.export_model_share,
        methods=["POST"],
        name="payment_export_model_share",
    ),
    Route(
        "/versements/exports/{export_id}",
        export_routes.export_show,
        methods=["GET"],
        name="payment_export",
    ),
    Route(
        "/versements/exports/{export_id}/fichier",
        export_routes.export_download,
        methods=["GET"],
        name="payment_export_download",
    ),
]
