"""The diagnostic grid and a household's diagnostic.

Every section is private to the association following the household, except the housing
synthesis: the one section that may reach the bailleur, and only through a transmission
under a live consent naming it (`portal.households.consents`). What is not related to housing
never reaches the bailleur, whatever a consent says."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from portal.core import clock
from portal.core.db import transaction
from portal.core.forms import FieldError
from portal.core.tenancy import TenantContext, TenantScope
from portal.households import reads, repository
from portal.households.access import Opened, require
from portal.households.contact import touch
from portal.households.enums import Part, Read

SYNTHESIS = "synthesis"  # the housing synthesis: the only shareable section


@dataclass(frozen=True)
class GridSection:
    code: str
    title: str
    optional: bool = False

    @property
    def shareable(self) -> bool:
        return self.code == SYNTHESIS


# After the AVDL guide's grid (seeds: « mode d'emploi », part 2).
DEFAULT_GRID = (
    GridSection("administrative", "Situation administrative"),
    GridSection("budget", "Budget et ressources"),
    GridSection("residential", "Situation résidentielle et logement"),
    GridSection("health", "Santé et autonomie", optional=True),
    GridSection(SYNTHESIS, "Synthèse : le projet logement"),
)


async def grid(scope: TenantScope) -> list[GridSection]:
    rows = await repository.sections(scope)
    if not rows:
        return list(DEFAULT_GRID)
    return [GridSection(r["code"], r["title"], r["optional"]) for r in rows]


async def save_grid(ctx: TenantContext, sections: list[GridSection]) -> None:
    """The consortium's own grid. The housing synthesis stays: it is what the bailleur may
    receive, and what its partnership convention speaks of."""
    if not any(s.code == SYNTHESIS for s in sections):
        raise FieldError("La synthèse logement fait toujours partie de la grille.", "sections")
    codes = [s.code for s in sections]
    if len(set(codes)) != len(codes):
        raise FieldError("Deux sections portent le même nom.", "sections")
    async with transaction():
        await repository.replace_sections(
            ctx,
            [
                {"code": s.code, "title": s.title, "optional": s.optional, "position": n}
                for n, s in enumerate(sections)
            ],
        )


async def save_section(opened: Opened, code: str, text: str) -> None:
    await save_sections(opened, {code: text})


async def save_sections(opened: Opened, texts: dict[str, str]) -> int:
    """The association writes the diagnostic (a contact with the household); only the
    sections whose text changed are written. Returns how many."""
    if not opened.follows:
        raise PermissionError("diagnostic")
    codes = {s.code for s in await grid(opened.ctx)}
    if not set(texts) <= codes:
        raise FieldError("Cette section ne fait pas partie de la grille.", "diagnostic")
    sealer = await opened.sealer()
    current = {
        r["section"]: sealer.open(opened.id, f"section:{r['section']}", r["sealed"])
        for r in await repository.diagnostic(opened.ctx, opened.id)
    }
    changed = {c: t for c, t in texts.items() if t != current.get(c, "")}
    if not changed:
        return 0
    async with transaction():
        for code, text in changed.items():
            await repository.save_section(
                opened.ctx,
                opened.id,
                code,
                sealer.seal(opened.id, f"section:{code}", text),
                opened.ctx.user_id,
                clock.now(),
            )
        await touch(opened.ctx, opened.id)
    return len(changed)


async def sections(opened: Opened, log: reads.Reads) -> list[dict[str, Any]]:
    """The whole diagnostic, for the association following the household; each section with
    a text is a read."""
    require(opened, Part.DIAGNOSTIC)
    sealer = await opened.sealer()
    written = {r["section"]: r for r in await repository.diagnostic(opened.ctx, opened.id)}
    shown = []
    for section in await grid(opened.ctx):
        row = written.get(section.code)
        text = sealer.open(opened.id, f"section:{section.code}", row["sealed"]) if row else ""
        if row:
            log.add(opened.id, opened.pseudonym, Read.SECTION, section.code)
        shown.append(
            {
                "section": section,
                "text": text,
                "updated_at": row["updated_at"] if row else None,
            }
        )
    return shown


async def synthesis_text(opened: Opened) -> str:
    """The current housing synthesis, for a transmission (not a read: it is being sent)."""
    sealer = await opened.sealer()
    for row in await repository.diagnostic(opened.ctx, opened.id):
        if row["section"] == SYNTHESIS:
            return sealer.open(opened.id, f"section:{SYNTHESIS}", row["sealed"])
    return ""
