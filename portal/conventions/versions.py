"""Versions and the lifecycle moves: snapshots, freezing with the PDF rendered once, the
signature hand-over, avenants and renewals, comparisons and the history."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread

from portal.audit import service as audit
from portal.audit.enums import AuditTag
from portal.auth.service import CurrentUser
from portal.conventions import access, lifecycle, pdf, repository, snapshot
from portal.conventions.content import blockers, content
from portal.conventions.drafting import insert_article
from portal.conventions.enums import (
    ConventionStatus,
    DisplayStatus,
    Origin,
    RevisionAction,
    SuggestionStatus,
)
from portal.conventions.service import (
    Opened,
    Row,
    chain_overlaps,
    record,
    subject,
)
from portal.core import clock, spool
from portal.core.actor import Actor
from portal.core.db import transaction
from portal.core.forms import FieldError, is_digits
from portal.core.storage import get_storage
from portal.core.templating import date_fr
from portal.core.tenancy import TenantScope
from portal.objects import service as objects
from portal.signing import service as signing
from portal.tenants import service as tenants

OWNER = "conventions"  # in the ledger of objects

# Versions, lifecycle, PDF --------------------------------------------------------------------


async def _consortium_name(scope: TenantScope) -> str:
    found = await tenants.scope_and_consortium(scope.consortium_id)
    return str(found[1]["name"]) if found else ""


async def current_snapshot(
    scope: TenantScope, row: Row, *, frozen: bool = False
) -> snapshot.Snapshot:
    """A frozen version keeps only the variables that have a value: no placeholder in it."""
    c = await content(scope, row)
    return snapshot.build(
        consortium_name=await _consortium_name(scope),
        convention=row,
        parties=c.parties,
        articles=c.articles,
        budget=c.lines,
        indicators=c.indicators,
        annexes=c.annexes,
        variables={k: v for k, v in c.variables.items() if not (frozen and k in c.missing)},
    )


async def _fetch(key: str, folder: Path) -> Path:
    path = folder / uuid.uuid4().hex
    chunks = await get_storage().open(key)
    try:
        async with await anyio.open_file(path, "wb") as out:
            async for chunk in chunks:
                await out.write(chunk)
    except OSError as exc:
        raise spool.unavailable(exc, path) from exc
    return path


async def render_pdf(snap: snapshot.Snapshot, *, version_label: str, frozen: bool) -> bytes:
    with spool.temporary_directory() as folder:
        annexes = [await _fetch(x["storage_key"], folder) for x in snap["annexes"]]
        return await anyio.to_thread.run_sync(
            lambda: pdf.render(snap, annexes, version_label=version_label, frozen=frozen)
        )


async def _take_version(
    opened: Opened, user: CurrentUser, snap: snapshot.Snapshot, **values: Any
) -> int:
    number = await repository.next_version_number(opened.ctx, opened.id)
    await repository.insert_version(
        opened.ctx,
        {
            "convention": opened.id,
            "number": number,
            "snapshot": snap,
            "content_sha256": snapshot.digest(snap),
            "created_by": user.id,
            "created_by_name": user.full_name,
            **values,
        },
    )
    return number


async def change_status(actor: Actor, opened: Opened, user: CurrentUser, target: str) -> str:
    """Moves the convention along its lifecycle; returns a French confirmation."""
    if not access.may_edit(opened.ctx.role):
        raise PermissionError(opened.id)
    try:
        goal = ConventionStatus(target)
    except ValueError as exc:
        raise FieldError("Action inconnue.", "status") from exc
    if goal == ConventionStatus.SIGNED:
        raise FieldError(
            "La signature s'enregistre par le circuit de signature, pas à la main.", "status"
        )
    lifecycle.check_transition(opened.row["status"], goal)
    if goal == ConventionStatus.READY:
        return await freeze(actor, opened, user)
    async with transaction():
        if not await repository.update_convention(
            opened.ctx,
            opened.id,
            {"status": goal, "updated_at": clock.now()},
            status_in=[opened.row["status"]],
        ):
            raise FieldError("Le statut vient de changer : rechargez la page.", "status")
        # Looked for after the update, which holds the row a new request also holds
        # (`service.hold_frozen`): a request sent at the same moment is seen, or refused.
        if opened.status == ConventionStatus.READY and await signing.active_request(
            opened.ctx, opened.id
        ):
            # The text would become editable while signers are still invited to sign the
            # frozen PDF: the pilot cancels the request first, seeing who has already signed.
            raise FieldError(
                "Une demande de signature est en cours pour cette version figée : les "
                "signataires sont invités à signer ce texte. Annulez d'abord la demande depuis "
                "le suivi des signatures (un motif est demandé), puis rouvrez la relecture.",
                "status",
            )
        message = f"Convention passée « {DisplayStatus(goal.value).label.lower()} »"
        if goal == ConventionStatus.REVIEW and opened.status == ConventionStatus.DRAFT:
            snap = await current_snapshot(opened.ctx, {**opened.row, "status": goal})
            number = await _take_version(opened, user, snap)
            message = f"Convention soumise en relecture (version {number})"
        await record(
            actor,
            opened,
            user,
            message,
            AuditTag.CONVENTION_STATUS_CHANGED,
            before=opened.row["status"],
            after=goal.value,
        )
    return message + "."


async def freeze(actor: Actor, opened: Opened, user: CurrentUser) -> str:
    """Freezes the version for signature: snapshot, SHA-256, PDF rendered once and stored."""
    c = await content(opened.ctx, opened.row)
    c.extra["pending_suggestions"] = sum(
        1
        for s in await repository.suggestions(opened.ctx, opened.id)
        if s["status"] == SuggestionStatus.PENDING
    )
    c.extra["overlaps"] = await chain_overlaps(opened.ctx, opened.row)
    problems = blockers(c)
    if problems:
        raise FieldError(
            "La convention ne peut pas encore être figée : "
            + " ".join(p.message for p in problems),
            "status",
        )
    snap = await current_snapshot(opened.ctx, opened.row, frozen=True)
    number = await repository.next_version_number(opened.ctx, opened.id)
    label = f"version {number} figée le {date_fr(clock.today())}"
    document = await render_pdf(snap, version_label=label, frozen=True)
    pdf_sha = hashlib.sha256(document).hexdigest()
    key = (  # a random part: never the key of another attempt (see `portal.objects`)
        f"conventions/{opened.ctx.consortium_id}/{opened.id}/"
        f"v{number}-{pdf_sha[:16]}-{uuid.uuid4().hex[:8]}.pdf"
    )
    # Storage or database down: `Unavailable`, which the page shows as a 503.
    async with objects.stored_bytes(
        key, document, "application/pdf", owner=OWNER, consortium_id=opened.ctx.consortium_id
    ) as stored:
        await _record_frozen(actor, opened, user, snap, number, key, document, stored)
    return f"Version {number} figée : elle est prête à signer."


async def _record_frozen(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    snap: snapshot.Snapshot,
    number: int,
    key: str,
    document: bytes,
    stored: objects.Handle,
) -> None:
    pdf_sha = hashlib.sha256(document).hexdigest()
    async with transaction():
        if not await repository.update_convention(
            opened.ctx,
            opened.id,
            {"status": ConventionStatus.READY, "updated_at": clock.now()},
            status_in=[ConventionStatus.REVIEW],
        ):
            raise FieldError("Le statut vient de changer : rechargez la page.", "status")
        # Anything saved while the PDF was rendering would be missing from it.
        again = await current_snapshot(opened.ctx, opened.row, frozen=True)
        if snapshot.digest(again) != snapshot.digest(snap):
            raise FieldError(
                "La convention a été modifiée pendant qu'elle était figée : rien n'a été "
                "figé. Relisez les derniers changements puis recommencez.",
                "status",
            )
        await repository.insert_version(
            opened.ctx,
            {
                "convention": opened.id,
                "number": number,
                "frozen": True,
                "snapshot": snap,
                "content_sha256": snapshot.digest(snap),
                "pdf_key": key,
                "pdf_sha256": pdf_sha,
                "pdf_size": len(document),
                "created_by": user.id,
                "created_by_name": user.full_name,
            },
        )
        await record(
            actor,
            opened,
            user,
            f"Version {number} figée pour signature (PDF SHA-256 {pdf_sha[:16]}…)",
            AuditTag.CONVENTION_FROZEN,
            version=number,
            pdf_sha256=pdf_sha,
            content_sha256=snapshot.digest(snap),
        )
        await stored.confirm()


async def _derive(
    actor: Actor,
    opened: Opened,
    user: CurrentUser,
    origin: Origin,
    months: int | None = None,
) -> uuid.UUID:
    """A new draft linked to the signed version: an avenant or a renewal."""
    if not access.may_edit(opened.ctx.role):
        raise PermissionError(opened.id)
    row = opened.row
    if row["status"] != ConventionStatus.SIGNED or row["signed_version"] is None:
        raise FieldError(
            "Seule une convention signée peut faire l'objet d'un avenant ou d'un renouvellement.",
            "origin",
        )
    others = await repository.conventions(opened.ctx)
    if origin == Origin.RENEWAL:
        lifecycle.check_renewable(row, others)
    for other in others:
        if other["parent"] == opened.id and other["status"] != ConventionStatus.SIGNED:
            raise FieldError(
                f"{other['title']} ({other['reference']}) est déjà en préparation : "
                "terminez-le ou abandonnez-le d'abord.",
                "origin",
            )
    count = await repository.count_children(opened.ctx, opened.id, origin) + 1
    values: dict[str, Any] = {
        "kind": row["kind"],
        "origin": origin,
        "parent": opened.id,
        "parent_version": row["signed_version"],
        "status": ConventionStatus.DRAFT,
        "created_by": user.id,
        "project_name": row["project_name"],
        "territory": row["territory"],
        "households_target": row["households_target"],
        "homes_target": row["homes_target"],
        "subletting_renewals": row["subletting_renewals"],
        "unit_diagnostic_cents": row["unit_diagnostic_cents"],
        "unit_accompaniment_cents": row["unit_accompaniment_cents"],
        "unit_gla_cents": row["unit_gla_cents"],
    }
    if origin == Origin.AMENDMENT:
        values |= {
            "reference": f"{row['reference']}-A{count}",
            "title": f"Avenant n° {row['amendment_number'] + 1} – {row['title']}",
            "amendment_number": row["amendment_number"] + 1,
            "starts_on": row["starts_on"],
            "duration_months": row["duration_months"],
            "months_before": row["months_before"],
        }
        summary = f"Avenant n° {row['amendment_number'] + 1} ouvert"
    else:
        assert months is not None
        months_before = row["months_before"] + row["duration_months"]
        lifecycle.check_duration(months, months_before, renewal=True)
        end = lifecycle.ends_on(row)
        values |= {
            "reference": f"{row['reference']}-R{count}",
            "title": f"Renouvellement – {row['title']}",
            "starts_on": end + dt.timedelta(days=1) if end else None,
            "duration_months": months,
            "months_before": months_before,
        }
        summary = f"Renouvellement de {months} mois ouvert"
    async with transaction():
        new_id = await repository.insert_convention(opened.ctx, values)
        for p in await repository.parties(opened.ctx, opened.id):
            await repository.insert_party(
                opened.ctx,
                {
                    "convention": new_id,
                    **{
                        k: p[k]
                        for k in (
                            "organisation",
                            "role",
                            "signatory_name",
                            "signatory_title",
                            "referent_name",
                            "referent_email",
                            "referent_phone",
                            "position",
                        )
                    },
                },
            )
        for a in await repository.articles(opened.ctx, opened.id):
            await insert_article(
                opened.ctx,
                user,
                new_id,
                a["position"],
                a["title"],
                a["body"],
                key=a["key"],
                note=f"repris de la version signée de {row['reference']}",
                source=a["id"],
            )
        for line in await repository.budget_lines(opened.ctx, opened.id):
            await repository.insert_budget_line(
                opened.ctx,
                {"convention": new_id, **{k: line[k] for k in snapshot.BUDGET_FIELDS}},
            )
        for i in await repository.indicators(opened.ctx, opened.id):
            await repository.insert_indicator(
                opened.ctx, {"convention": new_id, **{k: i[k] for k in snapshot.INDICATOR_FIELDS}}
            )
        await record(actor, opened, user, summary, reference=values["reference"])
        await audit.record_action(
            AuditTag.CONVENTION_CREATED,
            actor,
            opened.ctx,
            subject=subject(new_id),
            summary=f"{summary} à partir de la version signée de {row['reference']}",
            actor_name=user.full_name,
        )
    return new_id


async def start_amendment(actor: Actor, opened: Opened, user: CurrentUser) -> uuid.UUID:
    return await _derive(actor, opened, user, Origin.AMENDMENT)


async def start_renewal(actor: Actor, opened: Opened, user: CurrentUser, months: int) -> uuid.UUID:
    return await _derive(actor, opened, user, Origin.RENEWAL, months)


async def version_pdf(
    opened: Opened, number: int | None
) -> tuple[str, AsyncIterator[bytes] | bytes]:
    """A frozen version's stored bytes (never regenerated), or a rendering of a review version
    or of the current draft, marked as a working document."""
    ctx = opened.ctx
    if number is None:
        snap = await current_snapshot(ctx, opened.row)
        label = f"projet du {date_fr(clock.today())}"
        return f"{opened.row['reference']}-projet.pdf", await render_pdf(
            snap, version_label=label, frozen=False
        )
    version = await repository.version(ctx, opened.id, number)
    if version is None:
        raise LookupError(number)
    filename = f"{opened.row['reference']}-v{number}.pdf"
    if version["frozen"]:
        return filename, await get_storage().open(version["pdf_key"])
    label = f"version {number} de relecture"
    return filename, await render_pdf(version["snapshot"], version_label=label, frozen=False)


async def versions(opened: Opened) -> list[Row]:
    return await repository.versions(opened.ctx, opened.id)


async def comparison(
    opened: Opened, before: str, after: str
) -> tuple[snapshot.Comparison, str, str] | None:
    """Compares two of: a version number, "signee" (the signed version an avenant starts
    from), "courant" (the current text)."""

    async def load(which: str) -> tuple[snapshot.Snapshot, str] | None:
        if which == "courant":
            return await current_snapshot(opened.ctx, opened.row), "texte actuel"
        if which == "signee" and opened.row["parent_version"] is not None:
            found = await repository.version_by_id(opened.ctx, opened.row["parent_version"])
            if found is None:
                return None
            return found["snapshot"], "version signée d'origine"
        if is_digits(which):
            found = await repository.version(opened.ctx, opened.id, int(which))
            if found is None:
                return None
            return found["snapshot"], f"version {which}"
        return None

    a, b = await load(before), await load(after)
    if a is None or b is None:
        return None
    return snapshot.compare(a[0], b[0]), a[1], b[1]


async def history(opened: Opened) -> list[dict[str, Any]]:
    """Who changed what, when: convention events and article revisions, newest first."""
    events: list[dict[str, Any]] = [
        {
            "at": e["at"],
            "who": e["details"].get("actor_name") or e["actor_email"] or "le portail",
            "what": e["details"].get("summary", e["tag"]),
            "article": None,
        }
        for e in await audit.subject_events(opened.ctx, subject(opened.id))
    ]
    titles = {a["id"]: a["title"] for a in await repository.articles(opened.ctx, opened.id)}
    for rev in await repository.revisions(opened.ctx, opened.id):
        if rev["action"] == RevisionAction.CREATED and rev["note"]:
            continue  # articles of the model: one event says the convention was created
        what = f"Article « {rev['title']} » : {RevisionAction(rev['action']).label}"
        if rev["note"]:
            what += f" ({rev['note']})"
        events.append(
            {
                "at": rev["at"],
                "who": rev["author_name"],
                "what": what,
                "article": rev["article"] if rev["article"] in titles else None,
            }
        )
    events.sort(key=lambda e: e["at"], reverse=True)
    return events
