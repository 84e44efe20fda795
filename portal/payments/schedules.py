"""Setting up who pays whom: a schedule (one payer, one beneficiary, one source of money, under
one signed convention) and its lines, proposed from the convention, then checked and saved.

The rules: amounts in cents, never negative; with fixed amounts, the lines add up exactly to
the amount granted or agreed (the difference is shown otherwise); a line already paid keeps
at least what was paid and cannot be removed. Every save is recorded with before and after.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

from portal.audit import service as audit
from portal.audit.enums import AuditTag
from portal.auth.service import CurrentUser
from portal.conventions import service as conventions
from portal.conventions.enums import ConventionKind, Funder, PartyRole
from portal.conventions.service import add_months, ends_on
from portal.core import clock
from portal.core.actor import Actor
from portal.core.db import transaction
from portal.core.forms import FieldError, check_date
from portal.core.templating import euros
from portal.core.tenancy import TenantContext, TenantScope
from portal.documents import service as documents
from portal.payments import access, conditions, lifecycle, repository
from portal.payments.enums import Basis, LineStatus, ScheduleKind, Trigger
from portal.payments.repository import LineFilter, Row
from portal.tenants import service as tenants
from portal.tenants.enums import OrganisationKind

# The default split of a State subsidy (advance, interim, balance) and of a reversement
# (advance, balance), as the default convention models word it.
SUBSIDY_SPLIT = (50, 30, 20)
REPAYMENT_SPLIT = (50, 50)
CGLLS = "CGLLS (gestionnaire du FNAVDL)"


@dataclasses.dataclass
class LineDraft:
    id: uuid.UUID | None
    label: str
    amount_cents: int | None
    expected_on: dt.date
    trigger: Trigger
    trigger_document: uuid.UUID | None = None
    trigger_line: uuid.UUID | None = None


@dataclasses.dataclass
class ScheduleDraft:
    convention: uuid.UUID
    kind: ScheduleKind
    label: str
    funder: str
    payer_organisation: uuid.UUID | None
    payer_name: str
    beneficiary: uuid.UUID
    basis: Basis
    total_cents: int | None
    unit_cost_cents: int | None
    unit_label: str
    rate_percent: int
    source_schedule: uuid.UUID | None
    decision_reference: str
    lines: list[LineDraft]


def split(total: int, shares: Sequence[int]) -> list[int]:
    """`total` cents in percentage shares, the rounding left on the last line so that the
    lines add up exactly."""
    parts = [total * share // 100 for share in shares[:-1]]
    return [*parts, total - sum(parts)]


def sum_error(draft: ScheduleDraft) -> str | None:
    """The schedule-sum rule: with fixed amounts, the lines add up to the total."""
    if draft.basis is not Basis.FIXED or draft.total_cents is None:
        return None
    planned = sum(line.amount_cents or 0 for line in draft.lines)
    if planned == draft.total_cents:
        return None
    gap = draft.total_cents - planned
    side = f"il manque {euros(gap)}" if gap > 0 else f"il y a {euros(-gap)} de trop"
    granted = "accordé" if draft.kind is ScheduleKind.SUBSIDY else "convenu"
    return (
        f"La somme des échéances ({euros(planned)}) diffère du montant {granted} "
        f"({euros(draft.total_cents)}) : {side}."
    )


# Proposals -----------------------------------------------------------------------------------


def _party(parties: Sequence[Row], *roles: PartyRole) -> Row | None:
    """The first party in the first of `roles` that has one (the lead before other bailleurs)."""
    for role in roles:
        found = next((p for p in parties if p["role"] == role), None)
        if found is not None:
            return found
    return None


async def proposal(
    ctx: TenantContext, convention_id: uuid.UUID, kind: ScheduleKind, beneficiary: uuid.UUID | None
) -> ScheduleDraft:
    """A schedule following the default models: for the State's subsidy, an advance at
    signature, a second payment on the interim report and the balance on the final bilan;
    for a reversement, an advance on the first installment received and the balance on the
    final bilan. Everything stays editable."""
    convention = await signed_convention(ctx, convention_id)
    parties = await conventions.parties_of(ctx, convention_id)
    lead = _party(parties, PartyRole.LEAD_LESSOR, PartyRole.LESSOR)
    starts = convention["starts_on"] or clock.today()
    ends = ends_on(convention) or add_months(starts, 24)
    signed = convention["signed_at"].date() if convention["signed_at"] else starts
    if kind is ScheduleKind.SUBSIDY:
        # The State fund follows the convention with the State; under the partnership
        # convention, a co-funder (its name to type) pays.
        state = convention["kind"] == ConventionKind.STATE
        summary = await conventions.budget_summary(ctx, convention_id)
        total = summary.state_fund_cents if summary and state else 0
        funder = "FNAVDL" if state else "du cofinanceur"
        payer = next(
            (
                o
                for o in await tenants.organisations(ctx)
                if OrganisationKind.FUNDER in o["kinds"] and "CGLLS" in o["name"].upper()
            ),
            None,
        )
        amounts = split(total, SUBSIDY_SPLIT)
        halfway = add_months(starts, max((convention["duration_months"] or 24) // 2, 1))
        return ScheduleDraft(
            convention=convention_id,
            kind=kind,
            label=f"Subvention {funder} – {convention['reference']}",
            funder=(Funder.STATE_FUND if state else Funder.OTHER).value,
            payer_organisation=payer["id"] if payer and state else None,
            payer_name=(payer["name"] if payer else CGLLS) if state else "",
            beneficiary=beneficiary or (lead["organisation"] if lead else ctx.organisation_id),
            basis=Basis.FIXED,
            total_cents=total,
            unit_cost_cents=None,
            unit_label="ménage accompagné",
            rate_percent=100,
            source_schedule=None,
            decision_reference="",
            lines=[
                LineDraft(None, "Avance à la signature", amounts[0], signed, Trigger.SIGNATURE),
                LineDraft(
                    None,
                    "Deuxième versement, sur le bilan intermédiaire",
                    amounts[1],
                    add_months(halfway, 1),
                    Trigger.DOCUMENT,
                ),
                LineDraft(
                    None,
                    "Solde, sur le bilan final",
                    amounts[2],
                    add_months(ends, 3),
                    Trigger.DOCUMENT,
                ),
            ],
        )
    association = beneficiary or next(
        (p["organisation"] for p in parties if p["role"] == PartyRole.ASSOCIATION), None
    )
    if association is None:
        raise FieldError("Cette convention n'a pas d'association partie.", "beneficiary")
    name = next((p["organisation_name"] for p in parties if p["organisation"] == association), "")
    sources = [
        s
        for s in await repository.schedules(ctx, access.Sight(everything=True))
        if s["kind"] == ScheduleKind.SUBSIDY
        and (lead is None or s["beneficiary"] == lead["organisation"])
    ]
    source = sources[0] if sources else None
    first = None
    if source is not None:
        source_lines = await repository.lines(
            ctx, access.Sight(everything=True), LineFilter(schedule=source["id"])
        )
        first = source_lines[0] if source_lines else None
    advance_on = add_months(first["expected_on"], 1) if first else add_months(starts, 1)
    return ScheduleDraft(
        convention=convention_id,
        kind=kind,
        label=f"Reversements à {name}" if name else "Reversements",
        funder=Funder.STATE_FUND.value,
        payer_organisation=lead["organisation"] if lead else None,
        payer_name=lead["organisation_name"] if lead else "",
        beneficiary=association,
        basis=Basis.FIXED,
        total_cents=None,
        unit_cost_cents=convention["unit_accompaniment_cents"],
        unit_label="ménage accompagné",
        rate_percent=100,
        source_schedule=source["id"] if source else None,
        decision_reference="",
        lines=[
            LineDraft(
                None,
                "Avance de 50 %, à la réception de la première tranche",
                None,
                advance_on,
                Trigger.INSTALLMENT if first else Trigger.DATE,
                trigger_line=first["id"] if first else None,
            ),
            LineDraft(
                None,
                "Solde, à la validation du bilan final",
                None,
                add_months(ends, 3),
                Trigger.DOCUMENT,
            ),
        ],
    )


async def signed_convention(scope: TenantScope, convention_id: uuid.UUID) -> Row:
    convention = await conventions.convention_of(scope, convention_id)
    if convention is None:
        raise LookupError(convention_id)
    if convention["status"] != "signed":
        raise FieldError(
            "Les versements se suivent sur une convention signée : celle-ci ne l'est pas encore.",
            "convention",
        )
    return convention


# Saving --------------------------------------------------------------------------------------


async def _check(
    ctx: TenantContext, draft: ScheduleDraft, existing: Sequence[Row]
) -> ScheduleDraft:
    """The draft as it will be saved (the payer's name taken from its organisation), or a
    FieldError naming the field at fault."""
    convention = await signed_convention(ctx, draft.convention)
    if draft.kind is ScheduleKind.SUBSIDY and draft.funder == Funder.STATE_FUND:
        if convention["kind"] != ConventionKind.STATE:
            raise FieldError(
                "La subvention de l'État se suit sur la convention avec l'État.", "convention"
            )
    if draft.kind is ScheduleKind.REPAYMENT and convention["kind"] != ConventionKind.PARTNERSHIP:
        raise FieldError(
            "Les reversements se suivent sur la convention de partenariat.", "convention"
        )
    organisations = {o["id"]: o for o in await tenants.organisations(ctx)}
    if draft.beneficiary not in organisations:
        raise FieldError("Choisissez une organisation du consortium.", "beneficiary")
    if draft.payer_organisation is not None:
        if draft.payer_organisation not in organisations:
            raise FieldError("Choisissez une organisation du consortium.", "payer")
        draft = dataclasses.replace(
            draft, payer_name=organisations[draft.payer_organisation]["name"]
        )
    if draft.payer_organisation == draft.beneficiary:
        raise FieldError("Le payeur et le bénéficiaire doivent être différents.", "payer")
    if not draft.lines:
        raise FieldError("Ajoutez au moins une échéance.", "lines")
    for n, line in enumerate(draft.lines):
        check_date(line.expected_on, f"l-{n}-expected_on")
    if draft.basis is Basis.RESULTS and not draft.unit_cost_cents:
        raise FieldError("Indiquez le coût unitaire convenu.", "unit_cost")
    if draft.basis is Basis.FIXED:
        for n, line in enumerate(draft.lines):
            if not line.amount_cents:
                raise FieldError("Indiquez le montant de l'échéance.", f"l-{n}-amount")
        if draft.total_cents is None:
            raise FieldError("Indiquez le montant accordé ou convenu.", "total")
        problem = sum_error(draft)
        if problem:
            raise FieldError(problem, "total")
    items = {uuid.UUID(str(i["id"])) for i in await documents.items_of(ctx)}
    subsidy_lines = {
        line["id"]
        for line in await repository.lines(
            ctx, access.Sight(everything=True), LineFilter(kind=ScheduleKind.SUBSIDY)
        )
    }
    for n, line in enumerate(draft.lines):
        if line.trigger is Trigger.DOCUMENT and line.trigger_document not in items:
            raise FieldError(
                "Choisissez la pièce dont la validation rend l'échéance payable.", f"l-{n}-trigger"
            )
        if line.trigger is Trigger.INSTALLMENT and line.trigger_line not in subsidy_lines:
            raise FieldError(
                "Choisissez le versement de la subvention attendu avant ce reversement.",
                f"l-{n}-trigger",
            )
    kept = {line.id for line in draft.lines if line.id is not None}
    for row in existing:
        if row["id"] not in kept and row["paid_cents"]:
            raise FieldError(
                f"L'échéance « {row['label']} » a déjà reçu {euros(row['paid_cents'])} : "
                "elle ne peut pas être retirée (annulez d'abord ses versements).",
                "lines",
            )
    paid = {row["id"]: int(row["paid_cents"]) for row in existing}
    for n, line in enumerate(draft.lines):
        if line.id is not None and line.id not in paid:
            raise FieldError("Cette échéance n'appartient pas à l'échéancier.", f"l-{n}-label")
        if (
            line.id is not None
            and draft.basis is Basis.FIXED
            and (line.amount_cents or 0) < paid[line.id]
        ):
            raise FieldError(
                f"Déjà versé sur cette échéance : {euros(paid[line.id])}. Le montant ne peut pas "
                "être inférieur.",
                f"l-{n}-amount",
            )
    return draft


def _schedule_values(draft: ScheduleDraft) -> dict[str, Any]:
    return {
        "convention": draft.convention,
        "kind": draft.kind.value,
        "label": draft.label,
        "funder": draft.funder,
        "payer_organisation": draft.payer_organisation,
        "payer_name": draft.payer_name,
        "beneficiary": draft.beneficiary,
        "basis": draft.basis.value,
        "total_cents": draft.total_cents,
        "unit_cost_cents": draft.unit_cost_cents,
        "unit_label": draft.unit_label,
        "rate_percent": draft.rate_percent,
        "source_schedule": draft.source_schedule,
        "decision_reference": draft.decision_reference,
    }


def _line_values(draft: ScheduleDraft, line: LineDraft, number: int) -> dict[str, Any]:
    return {
        "number": number,
        "label": line.label,
        "amount_cents": line.amount_cents if draft.basis is Basis.FIXED else None,
        "expected_on": line.expected_on,
        "trigger": line.trigger.value,
        "trigger_document": line.trigger_document if line.trigger is Trigger.DOCUMENT else None,
        "trigger_line": line.trigger_line if line.trigger is Trigger.INSTALLMENT else None,
    }


def snapshot(draft: ScheduleDraft) -> dict[str, Any]:
    """The audit record of a schedule (before or after a change): plain JSON."""
    values = _schedule_values(draft)
    return {
        **{k: str(v) if isinstance(v, uuid.UUID) else v for k, v in values.items()},
        "lines": [
            {
                "label": line.label,
                "amount_cents": line.amount_cents,
                "expected_on": line.expected_on.isoformat(),
                "trigger": line.trigger.value,
            }
            for line in draft.lines
        ],
    }


async def create(
    actor: Actor, ctx: TenantContext, user: CurrentUser, draft: ScheduleDraft
) -> uuid.UUID:
    if not access.may_manage(ctx.role):
        raise PermissionError("payments")
    draft = await _check(ctx, draft, [])
    now = clock.now()
    async with transaction():
        schedule_id = await repository.insert_schedule(
            ctx, {**_schedule_values(draft), "created_by": user.id}
        )
        for number, line in enumerate(draft.lines, 1):
            await repository.insert_line(
                ctx,
                {
                    **_line_values(draft, line, number),
                    "schedule": schedule_id,
                    "status": LineStatus.PLANNED.value,
                    "status_since": now,
                },
            )
        await _tie_documents(ctx, draft)
        await audit.record_action(
            AuditTag.PAYMENT_SCHEDULE_CREATED,
            actor,
            ctx,
            subject=subject(schedule_id),
            after=snapshot(draft),
        )
        await conditions.refresh(ctx, now)
    return schedule_id


def draft_of(schedule: Row, lines: Sequence[Row]) -> ScheduleDraft:
    """A saved schedule as a draft (the edit form's values, the audit's "before")."""
    return ScheduleDraft(
        convention=schedule["convention"],
        kind=ScheduleKind(schedule["kind"]),
        label=schedule["label"],
        funder=schedule["funder"],
        payer_organisation=schedule["payer_organisation"],
        payer_name=schedule["payer_name"],
        beneficiary=schedule["beneficiary"],
        basis=Basis(schedule["basis"]),
        total_cents=schedule["total_cents"],
        unit_cost_cents=schedule["unit_cost_cents"],
        unit_label=schedule["unit_label"],
        rate_percent=schedule["rate_percent"],
        source_schedule=schedule["source_schedule"],
        decision_reference=schedule["decision_reference"],
        lines=[
            LineDraft(
                line["id"],
                line["label"],
                line["amount_cents"],
                line["expected_on"],
                Trigger(line["trigger"]),
                line["trigger_document"],
                line["trigger_line"],
            )
            for line in lines
        ],
    )


async def update(
    actor: Actor,
    ctx: TenantContext,
    schedule_id: uuid.UUID,
    draft: ScheduleDraft,
    revision: int,
) -> None:
    """Saves the whole schedule at once, so the sum rule holds after every save."""
    if not access.may_manage(ctx.role):
        raise PermissionError("payments")
    current = await repository.schedule(ctx, schedule_id)
    if current is None:
        raise LookupError(schedule_id)
    existing = await repository.lines(
        ctx, access.Sight(everything=True), LineFilter(schedule=schedule_id)
    )
    draft = dataclasses.replace(
        draft, convention=current["convention"], kind=ScheduleKind(current["kind"])
    )
    draft = await _check(ctx, draft, existing)
    before = snapshot(draft_of(current, existing))
    now = clock.now()
    async with transaction():
        if not await repository.update_schedule(
            ctx, schedule_id, _schedule_values(draft), revision
        ):
            raise FieldError(
                "Quelqu'un a modifié cet échéancier pendant que vous le modifiiez : rechargez la "
                "page pour voir sa version, puis refaites vos changements.",
                "revision",
            )
        kept = {line.id for line in draft.lines if line.id is not None}
        for row in existing:
            if row["id"] not in kept:
                await repository.delete_line(ctx, row["id"])
            else:  # numbers move out of the way first: (schedule, number) is unique
                await repository.update_line(ctx, row["id"], {"number": -row["number"]})
        by_id = {row["id"]: row for row in existing}
        for number, line in enumerate(draft.lines, 1):
            values = _line_values(draft, line, number)
            if line.id is None:
                await repository.insert_line(
                    ctx,
                    {
                        **values,
                        "schedule": schedule_id,
                        "status": LineStatus.PLANNED.value,
                        "status_since": now,
                    },
                )
                continue
            old = by_id[line.id]
            facts = {**old, **values, **_schedule_values(draft)}
            moved = any(facts[k] != old[k] for k in ("trigger", "trigger_document", "trigger_line"))
            if moved and not old["paid_cents"] and old["requested_on"] is None:
                # A new condition is checked afresh (below); one already acted on stays met.
                values["met_at"] = facts["met_at"] = None
            status = lifecycle.status_of(facts, lifecycle.amount_of(facts, facts))
            if status != old["status"]:
                values |= {"status": status.value, "status_since": now}
            await repository.update_line(ctx, line.id, values)
        await _tie_documents(ctx, draft)
        await audit.record_action(
            AuditTag.PAYMENT_SCHEDULE_CHANGED,
            actor,
            ctx,
            subject=subject(schedule_id),
            before=before,
            after=snapshot(draft),
        )
        await conditions.refresh(ctx, now)


async def _tie_documents(scope: TenantScope, draft: ScheduleDraft) -> None:
    """The documents the lines wait for belong to the schedule's convention (who reviews
    them follows: see `portal.core.permissions.REVIEW_RULE`)."""
    for line in draft.lines:
        if line.trigger is Trigger.DOCUMENT and line.trigger_document is not None:
            await documents.tie_to_convention(scope, line.trigger_document, draft.convention)


def subject(schedule_id: uuid.UUID) -> str:
    return f"payments-schedule:{schedule_id}"
