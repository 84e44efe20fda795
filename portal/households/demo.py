"""Demo households in the first demo consortium, on varied paths: every step and occupancy
status, a re-entry after an exit, a refused and a withdrawn consent, a transmission to the
bailleur, open and acknowledged alerts, a suspended court procedure, and one household erased
with its tombstone. Idempotent: nothing is added to a consortium that has households.

The names are fictional; `NAMES` is what the leak tests look for in dumps and logs."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid
from typing import Any

from pypdf import PdfWriter

from portal.conventions import service as conventions
from portal.core import clock, spool
from portal.core.tenancy import TenantContext
from portal.documents.service import ReceivedFile
from portal.households import (
    access,
    alerts,
    consents,
    diagnostic,
    follow_up,
    register,
    repository,
    retention,
)
from portal.households.enums import ConsentState, ExitReason, Occupancy, Step
from portal.tenants import service as tenants

NAMES = (
    "Abdelkrim", "Baptistine", "Coudray", "Delaunoy", "Esquerré", "Fauvergue", "Guillemin",
    "Hamadouche", "Isnard", "Jablonski", "Kerbrat", "Lhermitte", "Mbappé-Ngoma", "Nouvellon",
    "Ozanne", "Pellegrino", "Quéméneur", "Rabemananjara", "Saint-Aubin", "Tchakaloff",
    "Urrutia", "Vasseur-Ollivier", "Wojciechowski", "Xhaferi", "Yacoubi", "Zanetti",
    "Bellefroid", "Cazenave", "Dieudonné-Mabika", "Erhardt",
)  # fmt: skip
ERASED = "Fontenaille"  # the household whose data was erased: only its pseudonym remains

# A private diagnostic text, which must never leave the association.
PRIVATE_HEALTH = "Suivi en centre médico-psychologique, traitement en cours"
SYNTHESIS = "Besoin d'un T3 au rez-de-chaussée, proche de l'école ; loyer résiduel de 180 €"

# (step reached, occupancy, extra) for the 30 households, in the order of NAMES.
PATHS: tuple[tuple[Step, Occupancy | None, str], ...] = (
    (Step.ORIENTATION, None, ""),
    (Step.ORIENTATION, Occupancy.HOSTED, "reoriented"),
    (Step.ENTRY, Occupancy.HOSTED, ""),
    (Step.ENTRY, Occupancy.INTERMEDIATE, "failed_entry"),
    (Step.DIAGNOSTIC, Occupancy.HOSTED, "consent_refused"),
    (Step.DIAGNOSTIC, Occupancy.SUBLETTING, "shared"),
    (Step.ACCOMPANIMENT, Occupancy.SUBLETTING, "shared_alert_open"),
    (Step.ACCOMPANIMENT, Occupancy.TENANT, "alert_acknowledged"),
    (Step.ACCOMPANIMENT, Occupancy.TENANT, "consent_withdrawn"),
    (Step.ACCOMPANIMENT, Occupancy.WITHOUT_TITLE, "procedure"),
    (Step.ACCOMPANIMENT, Occupancy.SUBLETTING, "renewed"),
    (Step.ACCOMPANIMENT, Occupancy.TENANT, "gla"),
    (Step.SUSPENDED, Occupancy.TENANT, ""),
    (Step.SUSPENDED, Occupancy.SUBLETTING, "technical_alert"),
    (Step.ACCOMPANIMENT, Occupancy.TENANT, "resumed"),
    (Step.EXIT, Occupancy.TENANT, ExitReason.REHOUSED),
    (Step.EXIT, Occupancy.TENANT, ExitReason.COMMON_LAW),
    (Step.EXIT, Occupancy.HOSTED, ExitReason.REFUSAL),
    (Step.EXIT, None, ExitReason.LOST_CONTACT),
    (Step.EXIT, Occupancy.TENANT, ExitReason.END_OF_SUPPORT),
    (Step.WATCH, Occupancy.TENANT, ExitReason.REHOUSED),
    (Step.WATCH, Occupancy.TENANT, ExitReason.COMMON_LAW),
    (Step.ORIENTATION, Occupancy.WITHOUT_TITLE, "reentry"),
    (Step.DIAGNOSTIC, Occupancy.INTERMEDIATE, ""),
    (Step.ACCOMPANIMENT, Occupancy.INTERMEDIATE, "second_tenancy"),
    (Step.ENTRY, None, ""),
    (Step.ACCOMPANIMENT, Occupancy.TENANT, ""),
    (Step.DIAGNOSTIC, Occupancy.HOSTED, ""),
    (Step.EXIT, Occupancy.TENANT, ExitReason.OTHER),
    (Step.ACCOMPANIMENT, Occupancy.SUBLETTING, "shared"),
)

FORWARD = (Step.ENTRY, Step.DIAGNOSTIC, Step.ACCOMPANIMENT)


def blank_scan() -> bytes:
    """A one-page PDF standing for a scanned authorisation."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def spooled(data: bytes) -> ReceivedFile:
    """`data` as an upload leaves it in the spool, for the services that take an upload."""
    handle, path = spool.new_file()
    with open(handle, "wb", closefd=True) as out:
        out.write(data)
    return ReceivedFile(
        path=path,
        filename="autorisation.pdf",
        size=len(data),
        head=data[:64],
        sha256=hashlib.sha256(data).hexdigest(),
    )


async def load(slug: str, worker_id: uuid.UUID, gla_id: uuid.UUID, pilot_id: uuid.UUID) -> None:
    """`worker_id`: an association worker; `gla_id`: a bailleur's GLA référent; `pilot_id`:
    the pilot, whose own organisation houses a third of the households."""
    ctx = await tenants.resolve_tenant(slug, worker_id)
    gla = await tenants.resolve_tenant(slug, gla_id)
    pilot = await tenants.resolve_tenant(slug, pilot_id)
    if (
        ctx is None
        or gla is None
        or pilot is None
        or await repository.listing_count(ctx, association=None, lessor=None, filters={})
    ):
        return
    if await repository.tombstones(ctx):
        return
    signed = [
        c
        for c in await conventions.visible_conventions(ctx)
        if c["status"] == "signed" and c["kind"] == "partnership"
    ]
    if not signed:
        return
    today = clock.today()
    for n, (name, (step, occupancy, extra)) in enumerate(zip(NAMES, PATHS, strict=True)):
        oriented = today - dt.timedelta(days=400 - 12 * n)
        lessor = gla.organisation_id if n % 3 != 2 else pilot.organisation_id
        await _household(
            ctx, gla, signed[0]["id"], n, name, oriented, lessor, step, occupancy, extra
        )
    await _erased(ctx, signed[0]["id"], today)


async def _household(
    ctx: TenantContext,
    gla: TenantContext,
    convention: uuid.UUID,
    n: int,
    name: str,
    oriented: dt.date,
    lessor: uuid.UUID,
    step: Step,
    occupancy: Occupancy | None,
    extra: Any,
) -> None:
    household_id = await register.orient(
        ctx,
        {
            "convention": convention,
            "lessor": lessor,
            "source": ("siao", "dalo", "complex_cases", "lessor", "association")[n % 5],
            "oriented_on": oriented,
            "motive": "Dette locative et menace d'expulsion" if n % 2 else "Sortie d'hébergement",
            "last_name": name,
            "first_name": ("Aïcha", "Bernard", "Chloé", "Driss", "Élodie", "Fabrice")[n % 6],
            "adults": 1 + n % 2,
            "children": n % 4,
            "phone": f"06 00 00 {n:02d} {n:02d}",
            "email": "",
            "address": f"{n + 3} rue de la Démo, Villeurbanne",
            "home_type": ("t1", "t2", "t3", "t4", "t5")[n % 5],
            "occupancy": None,
        },
    )
    opened = await _open(ctx, household_id)
    on = oriented

    async def go(target: Step, days: int = 15, **values: Any) -> None:
        nonlocal opened, on
        on = on + dt.timedelta(days=days)
        await follow_up.move(opened, {"step": target, "on": on, "reason": "Suivi", **values})
        opened = await _open(ctx, household_id)

    if extra == "reoriented":
        await go(Step.ORIENTATION, source="siao", reason="Réorientée vers le bon dispositif")
    if extra == "failed_entry":
        await go(Step.ENTRY)
        await go(Step.ORIENTATION, source="association", reason="Entrée manquée, réorientée")
        await go(Step.ENTRY)
    if extra == "reentry":
        for target in FORWARD:
            await go(target)
        await go(Step.EXIT, exit_reason=ExitReason.LOST_CONTACT, reason="Plus de nouvelles")
        await go(Step.ORIENTATION, source="siao", reason="Le ménage revient vers le dispositif")
    if step == Step.ORIENTATION:
        target_steps: list[Step] = []
    elif step in FORWARD:
        target_steps = list(FORWARD[: FORWARD.index(step) + 1])
    else:
        target_steps = list(FORWARD)
    if extra not in ("reentry", "failed_entry"):
        for target in target_steps:
            await go(target)
    if step == Step.SUSPENDED or extra == "resumed":
        await go(Step.SUSPENDED, reason="Le ménage demande une pause")
        if extra == "resumed":
            await go(Step.ACCOMPANIMENT, reason="Reprise à la demande du ménage")
    if step in (Step.EXIT, Step.WATCH):
        await go(Step.EXIT, exit_reason=extra, reason="Fin de l'accompagnement")
        if step == Step.WATCH:
            await go(Step.WATCH, reason="Veille de six mois")
    if occupancy is not None:
        await _occupy(opened, occupancy, oriented, extra)
        opened = await _open(ctx, household_id)
    if step in (Step.DIAGNOSTIC, Step.ACCOMPANIMENT, Step.SUSPENDED):
        await diagnostic.save_section(opened, "residential", "Hébergée chez un tiers depuis un an")
        await diagnostic.save_section(opened, "budget", "RSA et allocations ; dette de 2 300 €")
        await diagnostic.save_section(opened, "health", PRIVATE_HEALTH)
        await diagnostic.save_section(opened, "synthesis", SYNTHESIS)
    await _consents(opened, extra, on)
    await _alerts(opened, gla, household_id, extra, on)
    if n % 4 == 0:
        await follow_up.add_note(opened, "Visite à domicile, le ménage est présent", False)


async def _open(ctx: TenantContext, household_id: uuid.UUID) -> access.Opened:
    opened = await access.open_household(ctx, household_id)
    assert opened is not None
    return opened


async def _occupy(opened: access.Opened, status: Occupancy, since: dt.date, extra: Any) -> None:
    decision = {"decided_by": "Commission d'attribution", "decided_on": since}
    if extra == "second_tenancy":
        await follow_up.occupy(opened, {"status": Occupancy.TENANT, "since": since, **decision})
        later = since + dt.timedelta(days=60)
        await follow_up.occupy(
            opened, {"status": Occupancy.WITHOUT_TITLE, "since": later, **decision}
        )
    ends = since + dt.timedelta(days=182) if status == Occupancy.SUBLETTING else None
    await follow_up.occupy(opened, {"status": status, "since": since, "ends_on": ends, **decision})
    if extra == "renewed" and ends is not None:
        renewed = await access.open_household(opened.ctx, opened.id)
        assert renewed is not None
        await follow_up.renew_subletting(
            renewed,
            {
                "ends_on": ends + dt.timedelta(days=182),
                "decided_by": "Comité de suivi",
                "decided_on": ends,
            },
        )
    if extra == "gla":
        await follow_up.set_gla(opened, since)


async def _consents(opened: access.Opened, extra: Any, on: dt.date) -> None:
    if extra not in ("shared", "shared_alert_open", "consent_refused", "consent_withdrawn"):
        return
    lessor = opened.row["lessor"]
    values = {
        "purpose": "Transmettre la synthèse logement au bailleur",
        "sections": ["synthesis"],
        "recipients": [lessor],
        "siao_copied": extra == "shared",
        "state": ConsentState.REFUSED if extra == "consent_refused" else ConsentState.GIVEN,
        "collected_on": on,
        "expires_on": on + dt.timedelta(days=365),
    }
    evidence = None if extra == "consent_refused" else spooled(blank_scan())
    consent_id = await consents.record(opened, values, evidence)
    if extra in ("shared", "shared_alert_open"):
        await consents.transmit(opened, consent_id)
    if extra == "consent_withdrawn":
        await consents.withdraw(opened, consent_id, on + dt.timedelta(days=20))


async def _alerts(
    opened: access.Opened, gla: TenantContext, household_id: uuid.UUID, extra: Any, on: dt.date
) -> None:
    if extra in ("shared_alert_open", "alert_acknowledged", "procedure"):
        as_lessor = await access.open_household(gla, household_id)
        if as_lessor is None:
            return
        alert_id = await alerts.raise_alert(
            as_lessor,
            {"kind": "unpaid_rent", "raised_on": on, "note": "Deux mois de loyer impayés"},
        )
        if extra == "alert_acknowledged":
            await alerts.acknowledge(opened.ctx, alert_id)
        if extra == "procedure":
            await follow_up.suspend_procedure(
                as_lessor,
                {"suspended_on": on, "suspended_until": on + dt.timedelta(days=120)},
            )
    if extra == "technical_alert" and opened.row["lessor"]:
        await alerts.raise_alert(
            opened,
            {"kind": "technical", "raised_on": on, "note": "Infiltration d'eau dans la chambre"},
        )


async def _erased(ctx: TenantContext, convention: uuid.UUID, today: dt.date) -> None:
    """A household whose last contact is two years old: erased as the retention scan does."""
    household_id = await register.orient(
        ctx,
        {
            "convention": convention,
            "lessor": None,
            "source": "siao",
            "oriented_on": today - dt.timedelta(days=800),
            "motive": "Sortie d'hébergement",
            "last_name": ERASED,
            "first_name": "Gaston",
            "adults": 1,
            "children": 0,
        },
    )
    row = await repository.household(ctx, household_id)
    assert row is not None
    await retention.erase(ctx, row, retention.REASON, clock.now())
