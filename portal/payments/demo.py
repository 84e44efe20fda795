"""Demo payments on the signed conventions of the first demo consortium, in every state: the
State's subsidy (advance received, second installment requested and late, balance waiting for
the final bilan), a département paying an association directly (partly paid, due), and the
reversements of the bailleur to three associations (paid, due, partly paid after results were
declared, one payment confirmed over a warning, planned). Idempotent: nothing is added to a
consortium that has schedules."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import Any

from portal.auth.service import CurrentUser
from portal.conventions import service as conventions
from portal.conventions.enums import ConventionKind, Funder
from portal.core.actor import Actor
from portal.core.tenancy import TenantContext
from portal.documents import service as documents
from portal.payments import access, repository, schedules, service
from portal.payments.enums import Basis, ScheduleKind, Trigger
from portal.payments.repository import LineFilter
from portal.payments.schedules import LineDraft, ScheduleDraft
from portal.tenants import service as tenants

EVERYTHING = access.Sight(everything=True)


async def _lines(ctx: TenantContext, schedule_id: uuid.UUID) -> list[dict[str, Any]]:
    return await repository.lines(ctx, EVERYTHING, LineFilter(schedule=schedule_id))


async def load(slug: str, finance: CurrentUser) -> None:
    ctx = await tenants.resolve_tenant(slug, finance.id)
    if ctx is None or await repository.schedules(ctx, EVERYTHING):
        return
    actor = Actor.system(finance.id, finance.email)
    signed = await conventions.signed_conventions(ctx)
    state = next((c for c in signed if c["kind"] == ConventionKind.STATE), None)
    partnership = next((c for c in signed if c["kind"] == ConventionKind.PARTNERSHIP), None)
    if state is None or partnership is None:
        return
    orgs = {o["name"]: o["id"] for o in await tenants.organisations(ctx)}
    start: dt.date = state["starts_on"]

    def on(months: int, days: int = 0) -> dt.date:
        return conventions.add_months(start, months) + dt.timedelta(days=days)

    year = start.year
    subsidy = await schedules.proposal(ctx, state["id"], ScheduleKind.SUBSIDY, None)
    carrier = subsidy.beneficiary
    interim = await documents.demo_report(
        ctx, carrier, "Bilan intermédiaire du projet", on(6), True, state["id"]
    )
    final = await documents.demo_report(
        ctx, carrier, "Bilan final du projet", on(27), False, state["id"]
    )
    horizon = orgs["Association Horizon Insertion"]
    report = await documents.demo_report(
        ctx, horizon, "Rapport d'activité du premier semestre", on(6), True
    )

    # 1. The State's subsidy, paid by the CGLLS to the bailleur carrying the project.
    subsidy.decision_reference = f"Décision attributive n° {year}-69-014"
    subsidy.lines[0].expected_on = on(0, 10)
    subsidy.lines[1].trigger_document = interim
    subsidy.lines[2].trigger_document = final
    state_id = await schedules.create(actor, ctx, finance, subsidy)
    advance, second, _ = await _lines(ctx, state_id)
    await service.record_request(actor, ctx, finance, advance["id"], on(0, 12), "DDETS-DP-001")
    await service.record_payment(
        actor,
        ctx,
        finance,
        advance["id"],
        amount_cents=advance["amount_cents"],
        paid_on=on(0, 28),
        reference=f"CGLLS-{year}-00231",
    )
    # The interim report was validated; the payment was asked for and is now late.
    await service.record_request(actor, ctx, finance, second["id"], on(7), "DDETS-DP-002")

    # 2. The département pays an association directly (FSL): partly paid, then due.
    fsl_id = await schedules.create(
        actor,
        ctx,
        finance,
        ScheduleDraft(
            convention=partnership["id"],
            kind=ScheduleKind.SUBSIDY,
            label="Fonds de solidarité logement : accompagnement renforcé",
            funder=Funder.DEPARTEMENT.value,
            payer_organisation=None,
            payer_name="Département du Rhône (FSL)",
            beneficiary=horizon,
            basis=Basis.FIXED,
            total_cents=4_000_000,
            unit_cost_cents=None,
            unit_label="",
            rate_percent=100,
            source_schedule=None,
            decision_reference="Délibération CP du département",
            lines=[
                LineDraft(None, "Premier versement", 2_000_000, on(2), Trigger.DATE),
                LineDraft(None, "Second versement", 2_000_000, on(8), Trigger.DATE),
            ],
        ),
    )
    first_fsl = (await _lines(ctx, fsl_id))[0]
    await service.record_payment(
        actor,
        ctx,
        finance,
        first_fsl["id"],
        amount_cents=1_000_000,
        paid_on=on(2, 15),
        reference="DEP69-MANDAT-7781",
    )

    # 3. Reversements by the bailleur: Horizon (fixed), Entraide (results), Chemins (fixed).
    base = await schedules.proposal(ctx, partnership["id"], ScheduleKind.REPAYMENT, horizon)
    horizon_id = await schedules.create(
        actor,
        ctx,
        finance,
        dataclasses.replace(
            base,
            total_cents=4_800_000,
            lines=[
                dataclasses.replace(base.lines[0], amount_cents=2_400_000),
                LineDraft(
                    None,
                    "Solde, sur le rapport d'activité validé",
                    2_400_000,
                    on(7),
                    Trigger.DOCUMENT,
                    trigger_document=report,
                ),
            ],
        ),
    )
    first = (await _lines(ctx, horizon_id))[0]
    await service.record_payment(
        actor,
        ctx,
        finance,
        first["id"],
        amount_cents=2_400_000,
        paid_on=on(1, 10),
        reference=f"VIR-{year}-0412",
    )

    entraide = orgs["Entraide Saône Accompagnement"]
    base = await schedules.proposal(ctx, partnership["id"], ScheduleKind.REPAYMENT, entraide)
    entraide_id = await schedules.create(
        actor,
        ctx,
        finance,
        dataclasses.replace(
            base,
            basis=Basis.RESULTS,
            total_cents=3_200_000,
            lines=[
                LineDraft(
                    None, "Premier semestre : ménages accompagnés", None, on(6), Trigger.DATE
                ),
                LineDraft(
                    None, "Second semestre : ménages accompagnés", None, on(12), Trigger.DATE
                ),
            ],
        ),
    )
    semester = (await _lines(ctx, entraide_id))[0]
    await service.declare(actor, ctx, finance, semester["id"], quantity=12)
    await service.record_payment(
        actor,
        ctx,
        finance,
        semester["id"],
        amount_cents=1_000_000,
        paid_on=on(7, 5),
        reference=f"VIR-{year}-0533",
    )

    chemins = orgs["Les Chemins du Logement"]
    base = await schedules.proposal(ctx, partnership["id"], ScheduleKind.REPAYMENT, chemins)
    chemins_id = await schedules.create(
        actor,
        ctx,
        finance,
        dataclasses.replace(
            base,
            total_cents=2_000_000,
            lines=[
                LineDraft(None, "Avance", 1_000_000, on(1), Trigger.DATE),
                LineDraft(
                    None,
                    "Solde, sur le bilan final",
                    1_000_000,
                    on(28),
                    Trigger.DOCUMENT,
                    trigger_document=final,
                ),
            ],
        ),
    )
    advance_chemins = (await _lines(ctx, chemins_id))[0]
    await service.record_payment(
        actor,
        ctx,
        finance,
        advance_chemins["id"],
        amount_cents=1_050_000,
        paid_on=on(1, 20),
        reference=f"VIR-{year}-0450",
        confirmed=True,
        reason="Frais de déplacement du comité de pilotage avancés par l'association, "
        "régularisés sur cette avance.",
    )
