"""Following the money, line by line: what is owed and why, conditions met, payment requests,
results and expenses declared, payments recorded (with their warnings) or cancelled, and the
reminders to whoever must act. Setting up schedules is in `schedules`; the state table of a
line in `lifecycle`; who sees what in `access`.

Every change happens in one transaction with its audit record (who, when, before, after).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from portal.audit import service as audit
from portal.audit.enums import AuditTag
from portal.auth.service import CurrentUser
from portal.core import clock
from portal.core import periodic as units
from portal.core.actor import Actor
from portal.core.forms import FieldError, check_date
from portal.core.permissions import Role
from portal.core.templating import PARIS, date_fr, euros
from portal.core.tenancy import TenantContext, TenantScope
from portal.documents import service as documents
from portal.payments import access, conditions, lifecycle, repository, schedules
from portal.payments.enums import Basis, LineStatus, PaymentWarning, ScheduleKind, Trigger
from portal.payments.repository import LineFilter as LineFilter
from portal.payments.repository import Row
from portal.reminders.schedule import DueItem
from portal.tenants import service as tenants

EVERYTHING = access.Sight(everything=True)


def subject(line_id: uuid.UUID) -> str:
    return f"payments-line:{line_id}"


class NeedsConfirmation(FieldError):
    """A payment with warnings: shown back to the person, who confirms with a reason."""

    def __init__(self, warnings: Sequence[PaymentWarning], details: Sequence[str]) -> None:
        super().__init__(" ".join(details), "confirm")
        self.warnings = list(warnings)
        self.details = list(details)


# Reading -------------------------------------------------------------------------------------


async def trigger_texts(scope: TenantScope, lines: Sequence[Row]) -> dict[uuid.UUID, str]:
    """When each line becomes payable, in words ("à la validation de « Bilan final »…")."""
    items = {}
    if any(line["trigger"] == Trigger.DOCUMENT for line in lines):
        items = {uuid.UUID(str(i["id"])): i for i in await documents.items_of(scope)}
    sources: dict[uuid.UUID, Row] = {}
    wanted = tuple(line["trigger_line"] for line in lines if line["trigger_line"])
    if wanted:
        sources = {
            row["id"]: row
            for row in await repository.lines(scope, EVERYTHING, LineFilter(ids=wanted))
        }
    texts = {}
    for line in lines:
        trigger = Trigger(line["trigger"])
        text = trigger.label
        if trigger is Trigger.DOCUMENT and line["trigger_document"] in items:
            item = items[line["trigger_document"]]
            period = f" ({item['period_label']})" if item["period_label"] else ""
            text = (
                f"à la validation de la pièce « {item['title']}{period} » de "
                f"{item['organisation_name']}"
            )
        elif trigger is Trigger.INSTALLMENT and line["trigger_line"] in sources:
            source = sources[line["trigger_line"]]
            text = f"à la réception de « {source['label']} » ({source['schedule_label']})"
        elif trigger is Trigger.DATE:
            text = f"à partir du {date_fr(line['expected_on'])}"
        texts[line["id"]] = text
    return texts


def present(line: Row, day: dt.date, trigger_text: str = "") -> dict[str, Any]:
    """A line with what the pages show: amount, remaining, status label, late flag, why."""
    return {
        **line,
        "status_label": LineStatus(line["status"]).label(line["kind"]),
        "kind_label": ScheduleKind(line["kind"]).label,
        "remaining_cents": lifecycle.remaining(line),
        "late": lifecycle.is_late(line, day),
        "deadline": lifecycle.deadline(line),
        "why": lifecycle.explain(line, line, trigger_text),
        "when": f"Payable {trigger_text or Trigger(line['trigger']).label}",
        "awaits_declaration": lifecycle.awaits_declaration(line, line),
    }


async def visible_lines(
    ctx: TenantContext, found: LineFilter | None = None
) -> list[dict[str, Any]]:
    await conditions.refresh(ctx, clock.now())
    rows = await repository.lines(ctx, await access.sight_of(ctx), found or LineFilter())
    texts = await trigger_texts(ctx, rows)
    day = clock.today()
    return [present(row, day, texts.get(row["id"], "")) for row in rows]


async def _seen_line(ctx: TenantContext, line_id: uuid.UUID) -> Row:
    row = await repository.line(ctx, line_id)
    if row is None or not access.sees(await access.sight_of(ctx), row):
        raise LookupError(line_id)
    return row


@dataclass(frozen=True)
class LineDetail:
    line: dict[str, Any]
    schedule: Row
    payments: list[Row]
    history: list[dict[str, Any]]
    may_manage: bool
    may_declare: bool

    @property
    def status_labels(self) -> dict[str, str]:
        return {s.value: s.label(self.line["kind"]) for s in LineStatus}

    @property
    def warning_labels(self) -> dict[str, str]:
        return {w.value: w.label for w in PaymentWarning}


async def line_detail(ctx: TenantContext, line_id: uuid.UUID) -> LineDetail:
    await conditions.refresh(ctx, clock.now())
    row = await _seen_line(ctx, line_id)
    schedule = await repository.schedule(ctx, row["schedule"])
    assert schedule is not None
    texts = await trigger_texts(ctx, [row])
    return LineDetail(
        line=present(row, clock.today(), texts.get(row["id"], "")),
        schedule=schedule,
        payments=await repository.payments(ctx, [line_id]),
        history=await audit.subject_events(ctx, subject(line_id)),
        may_manage=access.may_manage(ctx.role),
        may_declare=access.may_declare(ctx, schedule),
    )


@dataclass(frozen=True)
class ScheduleDetail:
    schedule: Row
    lines: list[dict[str, Any]]
    history: list[dict[str, Any]]
    may_manage: bool

    @property
    def planned_cents(self) -> int:
        return sum(line["amount_cents"] or 0 for line in self.lines)

    @property
    def paid_cents(self) -> int:
        return sum(int(line["paid_cents"]) for line in self.lines)


async def schedule_detail(ctx: TenantContext, schedule_id: uuid.UUID) -> ScheduleDetail:
    schedule = await repository.schedule(ctx, schedule_id)
    if schedule is None or not access.sees(await access.sight_of(ctx), schedule):
        raise LookupError(schedule_id)
    return ScheduleDetail(
        schedule=schedule,
        lines=await visible_lines(ctx, LineFilter(schedule=schedule_id)),
        history=await audit.subject_events(ctx, schedules.subject(schedule_id)),
        may_manage=access.may_manage(ctx.role),
    )


# Changing a line -----------------------------------------------------------------------------


def _state(line: Mapping[str, Any]) -> dict[str, Any]:
    """What the audit keeps of a line before and after a change."""
    return {
        "status": line["status"],
        "amount_cents": line["amount_cents"],
        "paid_cents": int(line["paid_cents"]),
        "quantity": line["quantity"],
        "justified_cents": line["justified_cents"],
        "requested_on": line["requested_on"].isoformat() if line["requested_on"] else None,
        "met": line["met_at"] is not None,
    }


async def _save(
    actor: Actor,
    ctx: TenantContext,
    user: CurrentUser,
    line: Row,
    changes: dict[str, Any],
    tag: AuditTag,
    **details: Any,
) -> None:
    """Inside `repository.locked_line`: applies `changes`, derives the status again, records
    before and after, then lets dependent lines notice (a subsidy received…)."""
    at = clock.now()
    after = {**line, **changes}
    status = lifecycle.status_of(after, lifecycle.amount_of(after, after))
    if status != line["status"]:
        changes |= {"status": status.value, "status_since": at}
        after |= {"status": status.value}
    await repository.update_line(ctx, line["id"], changes)
    await audit.record_action(
        tag,
        actor,
        ctx,
        subject=subject(line["id"]),
        actor_name=user.full_name,
        before=_state(line),
        after=_state(after),
        **details,
    )
    await conditions.refresh(ctx, at)


def _require_manager(ctx: TenantContext) -> None:
    if not access.may_manage(ctx.role):
        raise PermissionError("payments")


def _check_date(day: dt.date | None, field: str, what: str) -> dt.date:
    if day is None:
        raise FieldError("Indiquez la date au format jj/mm/aaaa, par exemple 15/03/2027.", field)
    check_date(day, field)
    if day > clock.today():
        raise FieldError(f"La date {what} ne peut pas être dans le futur.", field)
    return day


def _signed_on(line: Row) -> dt.date | None:
    """The day (in Paris) the line's convention was signed, which usually comes before its
    start: the advance is asked for and paid then. The start date stands in when unknown."""
    signed: dt.datetime | None = line["convention_signed_at"]
    if signed is None:
        starts: dt.date | None = line["convention_starts_on"]
        return starts
    if signed.tzinfo is None:  # SQLite may hand back a naive UTC time
        signed = signed.replace(tzinfo=dt.UTC)
    return signed.astimezone(PARIS).date()


async def mark_met(
    actor: Actor, ctx: TenantContext, user: CurrentUser, line_id: uuid.UUID, note: str
) -> None:
    """The condition was met outside the portal (a committee's decision, a letter…)."""
    _require_manager(ctx)
    if len(note.strip()) < 3:
        raise FieldError("Indiquez comment la condition a été remplie.", "note")
    async with repository.locked_line(ctx, line_id) as line:
        if line is None:
            raise LookupError(line_id)
        if line["met_at"] is not None:
            raise FieldError("La condition de cette échéance est déjà remplie.", "note")
        await _save(
            actor,
            ctx,
            user,
            line,
            {"met_at": clock.now(), "met_note": note.strip()[:2000]},
            AuditTag.PAYMENT_CONDITION_MET,
            note=note.strip()[:2000],
        )


async def record_request(
    actor: Actor,
    ctx: TenantContext,
    user: CurrentUser,
    line_id: uuid.UUID,
    requested_on: dt.date | None,
    reference: str,
) -> None:
    """Subsidies: the beneficiary asked the funder for the payment (the State service's
    payment decision, then the CGLLS pays)."""
    _require_manager(ctx)
    async with repository.locked_line(ctx, line_id) as line:
        if line is None:
            raise LookupError(line_id)
        if line["kind"] != ScheduleKind.SUBSIDY:
            raise FieldError(
                "Une demande de versement ne concerne que les subventions.", "requested_on"
            )
        if line["status"] != LineStatus.DUE:
            raise FieldError(
                "Seule une échéance exigible, ni demandée ni versée, peut être demandée.",
                "requested_on",
            )
        day = _check_date(requested_on, "requested_on", "de la demande")
        signed = _signed_on(line)
        if signed is not None and day < signed:
            raise FieldError(
                "La date de la demande ne peut pas précéder la signature de la convention "
                f"({date_fr(signed)}).",
                "requested_on",
            )
        await _save(
            actor,
            ctx,
            user,
            line,
            {"requested_on": day, "request_reference": reference.strip()[:120]},
            AuditTag.PAYMENT_REQUESTED,
            reference=reference.strip()[:120],
        )


async def declare(
    actor: Actor,
    ctx: TenantContext,
    user: CurrentUser,
    line_id: uuid.UUID,
    *,
    quantity: int | None = None,
    justified_cents: int | None = None,
) -> None:
    """Results (households accompanied…) or justified expenses, which set the amount."""
    line = await _seen_line(ctx, line_id)
    schedule = await repository.schedule(ctx, line["schedule"])
    assert schedule is not None
    if not access.may_declare(ctx, schedule):
        raise PermissionError(line_id)
    basis = Basis(schedule["basis"])
    if basis is Basis.FIXED:
        raise FieldError("Le montant de cette échéance est fixé à l'avance.", "quantity")
    if basis is Basis.RESULTS and quantity is None:
        raise FieldError(f"Indiquez le nombre ({schedule['unit_label']}).", "quantity")
    if basis is Basis.EXPENSES and justified_cents is None:
        raise FieldError("Indiquez le montant des dépenses justifiées.", "justified")
    async with repository.locked_line(ctx, line_id) as locked:
        assert locked is not None
        line = locked
        changes: dict[str, Any] = (
            {"quantity": quantity}
            if basis is Basis.RESULTS
            else {"justified_cents": justified_cents}
        )
        amount = lifecycle.amount_of(schedule, {**line, **changes})
        assert amount is not None
        field = "quantity" if basis is Basis.RESULTS else "justified"
        if amount < int(line["paid_cents"]):
            raise FieldError(
                f"Déjà versé sur cette échéance : {euros(line['paid_cents'])}. Le montant "
                f"déclaré ({euros(amount)}) ne peut pas être inférieur.",
                field,
            )
        ceiling = schedule["total_cents"]
        if ceiling is not None:
            others = sum(
                row["amount_cents"] or 0
                for row in await repository.lines(
                    ctx, EVERYTHING, LineFilter(schedule=schedule["id"])
                )
                if row["id"] != line_id
            )
            if others + amount > ceiling:
                raise FieldError(
                    f"Avec cette déclaration, l'échéancier atteindrait {euros(others + amount)}, "
                    f"au-delà du plafond convenu de {euros(ceiling)} "
                    f"(dépassement : {euros(others + amount - ceiling)}).",
                    field,
                )
        await _save(
            actor,
            ctx,
            user,
            line,
            {**changes, "amount_cents": amount, "declared_by": user.id, "declared_at": clock.now()},
            AuditTag.PAYMENT_DECLARED,
        )


# Payments ------------------------------------------------------------------------------------


async def _warnings(
    ctx: TenantContext, line: Row, amount: int, day: dt.date
) -> list[tuple[PaymentWarning, str]]:
    found = []
    signed = _signed_on(line)
    if signed is not None and day < signed:
        # Possible (an advance by anticipation), but most often a typing mistake.
        found.append(
            (
                PaymentWarning.BEFORE_SIGNATURE,
                f"Ce versement est daté du {date_fr(day)}, avant la signature de la convention "
                f"({date_fr(signed)}).",
            )
        )
    if line["status"] == LineStatus.PLANNED:
        found.append(
            (
                PaymentWarning.NOT_DUE,
                "Cette échéance n'est pas encore exigible : sa condition n'est pas remplie"
                + (
                    " et son montant n'est pas encore déclaré."
                    if line["amount_cents"] is None
                    else "."
                ),
            )
        )
    due = line["amount_cents"]
    paid = int(line["paid_cents"])
    if due is not None and paid + amount > due:
        found.append(
            (
                PaymentWarning.OVERPAYMENT,
                f"Avec ce versement, {euros(paid + amount)} auront été payés pour {euros(due)} dus "
                f"(trop-perçu : {euros(paid + amount - due)}).",
            )
        )
    if line["kind"] == ScheduleKind.REPAYMENT and line["source_schedule"]:
        received = await repository.paid_on_schedules(ctx, [line["source_schedule"]])
        passing = await repository.schedules_passing_on(ctx, line["source_schedule"])
        passed = await repository.paid_on_schedules(ctx, passing)
        if passed + amount > received:
            found.append(
                (
                    PaymentWarning.NOT_RECEIVED,
                    f"Les reversements atteindraient {euros(passed + amount)} alors que "
                    f"{euros(received)} de subvention ont été reçus : ce paiement est avancé sur "
                    "les fonds propres du bailleur.",
                )
            )
    return found


async def _totals(ctx: TenantContext, line_id: uuid.UUID) -> dict[str, Any]:
    active = [p for p in await repository.payments(ctx, [line_id]) if p["cancelled_at"] is None]
    return {
        "paid_cents": sum(int(p["amount_cents"]) for p in active),
        "last_paid_on": max((p["paid_on"] for p in active), default=None),
        "payment_references": ", ".join(p["reference"] for p in active)[:4000],
    }


async def record_payment(
    actor: Actor,
    ctx: TenantContext,
    user: CurrentUser,
    line_id: uuid.UUID,
    *,
    amount_cents: int | None,
    paid_on: dt.date | None,
    reference: str,
    confirmed: bool = False,
    reason: str = "",
) -> list[PaymentWarning]:
    """Records a payment (partial or whole), dated from the convention's signature. Warnings
    (dated before the signature, not due yet, more than remains, more passed on than received)
    raise `NeedsConfirmation` until confirmed with a reason."""
    _require_manager(ctx)
    if not amount_cents:
        raise FieldError("Le montant versé doit être supérieur à zéro.", "amount")
    reference = reference.strip()
    if not reference:
        raise FieldError(
            "Indiquez la référence du paiement (virement, mandat, décision de paiement).",
            "reference",
        )
    async with repository.locked_line(ctx, line_id) as line:
        if line is None:
            raise LookupError(line_id)
        day = _check_date(paid_on, "paid_on", "de versement")
        found = await _warnings(ctx, line, amount_cents, day)
        warnings = [code for code, _ in found]
        if found and not confirmed:
            raise NeedsConfirmation(warnings, [text for _, text in found])
        if found and len(reason.strip()) < 3:
            raise FieldError(
                "Expliquez pourquoi vous confirmez ce paiement malgré l'alerte : le motif est "
                "conservé.",
                "reason",
            )
        await repository.insert_payment(
            ctx,
            {
                "line": line_id,
                "amount_cents": amount_cents,
                "paid_on": day,
                "reference": reference[:120],
                "warnings": [w.value for w in warnings],
                "reason": reason.strip()[:2000] if found else "",
                "recorded_by": user.id,
                "recorded_by_name": user.full_name,
            },
        )
        await _save(
            actor,
            ctx,
            user,
            line,
            await _totals(ctx, line_id),
            AuditTag.PAYMENT_RECORDED,
            amount_cents=amount_cents,
            paid_on=day.isoformat(),
            reference=reference[:120],
            warnings=[w.value for w in warnings],
            reason=reason.strip()[:2000] if found else "",
        )
    return warnings


async def cancel_payment(
    actor: Actor,
    ctx: TenantContext,
    user: CurrentUser,
    line_id: uuid.UUID,
    payment_id: uuid.UUID,
    reason: str,
) -> None:
    """A payment recorded by mistake: kept, marked cancelled with the reason."""
    _require_manager(ctx)
    if len(reason.strip()) < 3:
        raise FieldError("Indiquez pourquoi ce versement est annulé.", "cancel_reason")
    async with repository.locked_line(ctx, line_id) as line:
        if line is None:
            raise LookupError(line_id)
        found = await repository.payment(ctx, payment_id)
        if found is None or found["line"] != line_id:
            raise LookupError(payment_id)
        if found["cancelled_at"] is not None:
            raise FieldError("Ce versement est déjà annulé.", "cancel_reason")
        await repository.cancel_payment(
            ctx,
            payment_id,
            {
                "cancelled_at": clock.now(),
                "cancelled_by_name": user.full_name,
                "cancel_reason": reason.strip()[:2000],
            },
        )
        await _save(
            actor,
            ctx,
            user,
            line,
            await _totals(ctx, line_id),
            AuditTag.PAYMENT_CANCELLED,
            payment=str(payment_id),
            amount_cents=int(found["amount_cents"]),
            reason=reason.strip()[:2000],
        )


# Reads for the payments pages (routes go through the service, not the repository) -----------


async def schedules_of(scope: TenantScope, sight: access.Sight) -> list[Row]:
    return await repository.schedules(scope, sight)


async def schedule_of(scope: TenantScope, schedule_id: uuid.UUID) -> Row | None:
    return await repository.schedule(scope, schedule_id)


async def lines_of(scope: TenantScope, sight: access.Sight, found: LineFilter) -> list[Row]:
    return await repository.lines(scope, sight, found)


async def line_of(scope: TenantScope, line_id: uuid.UUID) -> Row | None:
    return await repository.line(scope, line_id)


# The scheduler and the reminders ------------------------------------------------------------


async def refresh_all(at: dt.datetime) -> int:
    """Conditions met since the last scan, in every active consortium (idempotent)."""
    changed = 0
    for consortium in await tenants.active_consortia():
        scope = TenantScope.for_platform(
            consortium["id"], reason="the scheduler refreshes each active consortium in turn"
        )
        async with units.unit("versements", consortium=scope.consortium_id):
            changed += await conditions.refresh(scope, at)
    return changed


FINANCE_ROLES = frozenset({Role.FINANCE, Role.PILOT})


def _people(members: Iterable[Row], organisation: uuid.UUID | None) -> tuple[uuid.UUID, ...]:
    """Who acts for an organisation on money: its finance staff and pilots, else anyone."""
    of = [m for m in members if m["is_active"] and m["organisation_id"] == organisation]
    finance = [m for m in of if m["role"] in FINANCE_ROLES]
    return tuple(uuid.UUID(str(m["user_id"])) for m in (finance or of))


async def due_items(scope: TenantScope) -> list[DueItem]:
    """Lines waiting for someone, as reminder items: the beneficiary (declare results,
    request a subsidy payment), the payer (pay a reversement), the State service (a requested
    subsidy). Lines waiting for a document or a signature are reminded by those domains."""
    found = await tenants.scope_and_consortium(scope.consortium_id)
    slug = found[1]["slug"] if found else ""
    members = await tenants.members(scope)
    state_agents = [m for m in members if m["is_active"] and m["role"] == Role.STATE_AGENT]
    sights: dict[uuid.UUID, access.Sight] = {}
    for m in state_agents:
        if m["organisation_id"] not in sights:
            sights[m["organisation_id"]] = await access.sight(
                scope, Role.STATE_AGENT, m["organisation_id"]
            )

    def deciding(line: Row) -> tuple[uuid.UUID, ...]:
        """The State agents who see the line (their service is party to its convention)."""
        return tuple(
            uuid.UUID(str(m["user_id"]))
            for m in state_agents
            if access.sees(sights[m["organisation_id"]], line)
        )

    items = []
    for line in await repository.open_lines(scope):
        who = lifecycle.actor(line, line)
        if who == "trigger":
            continue
        if who == "beneficiary":
            recipients = _people(members, line["beneficiary"])
        elif line["payer_organisation"] is not None:
            recipients = _people(members, line["payer_organisation"])
        else:  # paid from outside the consortium (the CGLLS): the State service decides
            recipients = deciding(line) if line["funder"] == access.STATE_FUND else ()
        amount = euros(line["amount_cents"]) if line["amount_cents"] is not None else ""
        items.append(
            DueItem(
                subject=f"{subject(line['id'])}:{line['status']}",
                title=f"{line['label']} – {line['beneficiary_name']}"
                + (f" ({amount})" if amount else ""),
                due_on=lifecycle.deadline(line),
                created_on=line["status_since"].date(),
                link=f"/c/{slug}/versements/lignes/{line['id']}",
                recipients=recipients,
            )
        )
    return items
