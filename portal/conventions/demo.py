"""Demo conventions at different stages: a partnership convention signed and in force with an
avenant being drafted; the convention with the State signed too (money follows it), with an
avenant in review on which the State service comments and proposes a change."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from portal.auth.service import CurrentUser
from portal.conventions import collaboration, drafting, editing, repository, service, versions
from portal.conventions.enums import PartyRole
from portal.conventions.lifecycle import add_months
from portal.conventions.service import Opened
from portal.core import clock
from portal.core.actor import Actor
from portal.tenants import service as tenants

LEAD = "Rhône Habitat Solidaire"


def _actor(user: CurrentUser) -> Actor:
    """The demo command, acting as one of the demo people."""
    return Actor.system(user.id, user.email)


async def _opened(slug: str, user: CurrentUser, convention_id: uuid.UUID) -> Opened:
    ctx = await tenants.resolve_tenant(slug, user.id)
    assert ctx is not None
    opened = await service.open_convention(ctx, convention_id)
    assert opened is not None
    return opened


async def _prepare(
    slug: str,
    pilot: CurrentUser,
    convention_id: uuid.UUID,
    info: dict[str, Any],
    lines: list[dict[str, Any]],
    signatories: dict[str, tuple[str, str]],
) -> Opened:
    opened = await _opened(slug, pilot, convention_id)
    await editing.update_info(_actor(pilot), opened, pilot, info, opened.row["revision"])
    opened = await _opened(slug, pilot, convention_id)
    for line in lines:
        values = {
            "eligible": True,
            "confirmed": False,
            "in_kind": False,
            "funding_line": "",
            **line,
        }
        await editing.add_budget_line(_actor(pilot), opened, pilot, values)
    for party in await repository.parties(opened.ctx, convention_id):
        name, title = signatories.get(party["organisation_name"], (party["signatory_name"], ""))
        role = party["role"]
        if role in (PartyRole.LEAD_LESSOR, PartyRole.LESSOR):  # the pilot's bailleur carries it
            is_lead = party["organisation_name"] == LEAD
            role = PartyRole.LEAD_LESSOR if is_lead else PartyRole.LESSOR
        await editing.update_party(
            _actor(pilot),
            opened,
            pilot,
            party["id"],
            {
                "role": role,
                "signatory_name": name,
                "signatory_title": title,
                # Named référents: the partnership's article on them must not stay a blank.
                "referent_name": name,
            },
        )
    return await _opened(slug, pilot, convention_id)


async def load(slug: str, pilot: CurrentUser, agent: CurrentUser) -> None:
    ctx = await tenants.resolve_tenant(slug, pilot.id)
    assert ctx is not None
    if await repository.conventions(ctx):
        return
    # In force for ten months already: the payments demo has a past to show.
    today = clock.today()
    start = add_months(today.replace(day=1), -10)
    year = start.year
    signed_at = dt.datetime.combine(start - dt.timedelta(days=10), dt.time(10), dt.UTC)
    signatories = {
        "Rhône Habitat Solidaire": ("Claire Martin", "Directrice générale"),
        "Dauphiné Logement Social": ("Paul Garnier", "Directeur de la gestion locative"),
        "Bourgogne Foyers Hlm": ("Hélène Petit", "Directrice générale"),
        "Association Horizon Insertion": ("Samia Haddad", "Directrice"),
        "Accueil et Toit": ("Yves Morel", "Président"),
        "Les Chemins du Logement": ("Anne Leroy", "Présidente"),
        "Entraide Saône Accompagnement": ("Karim Saïdi", "Directeur"),
        "Entraide Phocéenne Logement": ("Lucie Blanc", "Présidente"),
        "DDETS du Rhône": ("Marc Lefebvre", "Directeur départemental"),
    }
    info: dict[str, Any] = {
        "title": f"Convention de partenariat AVDL Centre-Est {year}-{year + 1}",
        "project_name": "Logement d'abord Centre-Est",
        "territory": "Métropole de Lyon, Isère, Côte-d'Or, Saône-et-Loire",
        "starts_on": start,
        "duration_months": 24,
        "households_target": 120,
        "homes_target": 80,
        "unit_diagnostic_cents": 15_000,
        "unit_accompaniment_cents": 160_000,
        "unit_gla_cents": 30_000,
    }
    lines = [
        {
            "side": "expense",
            "category": "diagnostic",
            "label": "Diagnostics sociaux",
            "amount_cents": 1_800_000,
        },
        {
            "side": "expense",
            "category": "accompaniment",
            "label": "Accompagnement des ménages",
            "amount_cents": 38_400_000,
        },
        {
            "side": "expense",
            "category": "gla",
            "label": "Gestion locative adaptée",
            "amount_cents": 4_800_000,
        },
        {
            "side": "expense",
            "category": "engineering",
            "label": "Coordination et pilotage",
            "amount_cents": 2_000_000,
        },
        {
            "side": "expense",
            "category": "works",
            "label": "Remise en état de logements",
            "amount_cents": 1_500_000,
            "eligible": False,
        },
        {
            "side": "resource",
            "category": "state_fund",
            "label": "Subvention FNAVDL",
            "amount_cents": 36_000_000,
            "confirmed": True,
            "funding_line": "FNAVDL hors DALO",
        },
        {
            "side": "resource",
            "category": "lessors",
            "label": "Temps de personnel des bailleurs",
            "amount_cents": 6_500_000,
            "confirmed": True,
            "in_kind": True,
        },
        {
            "side": "resource",
            "category": "departement",
            "label": "Département (FSL)",
            "amount_cents": 4_000_000,
        },
        {
            "side": "resource",
            "category": "foundation",
            "label": "Fondation (accompagnement)",
            "amount_cents": 2_000_000,
        },
    ]
    # 1. Partnership: signed at the start of the year, in force; an avenant in draft.
    partnership = await drafting.create(
        _actor(pilot), ctx, pilot, "partnership", str(info["title"])
    )
    opened = await _prepare(slug, pilot, partnership, info, lines, signatories)
    await versions.change_status(_actor(pilot), opened, pilot, "review")
    opened = await _opened(slug, pilot, partnership)
    await versions.change_status(_actor(pilot), opened, pilot, "ready")
    frozen = (await repository.versions(ctx, partnership))[0]
    await service.mark_signed(ctx, partnership, frozen["id"], signed_at)
    opened = await _opened(slug, pilot, partnership)
    await versions.start_amendment(_actor(pilot), opened, pilot)

    # 2. With the State: signed too; its avenant in review, where the State service comments
    # and proposes a change.
    state = await drafting.create(
        _actor(pilot), ctx, pilot, "state", f"Convention d'objectifs FNAVDL {year}-{year + 1}"
    )
    opened = await _prepare(
        slug,
        pilot,
        state,
        {**info, "title": f"Convention d'objectifs FNAVDL {year}-{year + 1}"},
        lines,
        signatories,
    )
    await versions.change_status(_actor(pilot), opened, pilot, "review")
    opened = await _opened(slug, pilot, state)
    await versions.change_status(_actor(pilot), opened, pilot, "ready")
    frozen = (await repository.versions(ctx, state))[0]
    await service.mark_signed(ctx, state, frozen["id"], signed_at)
    avenant = await versions.start_amendment(
        _actor(pilot), await _opened(slug, pilot, state), pilot
    )
    await versions.change_status(
        _actor(pilot), await _opened(slug, pilot, avenant), pilot, "review"
    )
    opened = await _opened(slug, agent, avenant)
    articles = await repository.articles(ctx, avenant)
    subsidy = next(a for a in articles if a["key"] == "subvention")
    await collaboration.add_comment(
        _actor(agent),
        opened,
        agent,
        subsidy["id"],
        "Le calendrier des versements doit suivre le rythme des bilans : @claire.martin, "
        "pouvez-vous préciser les dates de transmission ?",
        None,
    )
    await collaboration.suggest(
        _actor(agent),
        opened,
        agent,
        subsidy["id"],
        subsidy["title"],
        subsidy["body"] + "\n\nLe bilan intermédiaire est transmis au plus tard le 30 juin.",
        "Date de transmission du bilan intermédiaire",
    )
