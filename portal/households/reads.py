"""The read log: one append-only row for every read of a household's identity, a diagnostic
section, an alert's text or a household's file, with the consent it relied on.

A page writes the rows of everything it shows in one statement, however many households it
lists; the rows name the household by id and pseudonym only."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from typing import Any

from portal.core import clock
from portal.core.spreadsheets import CsvSheet
from portal.core.tenancy import TenantContext, TenantScope
from portal.households import repository
from portal.households.enums import Read


@dataclass
class Reads:
    """What one page read, written by `flush` (call it once the page has what it shows)."""

    ctx: TenantContext
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        household_id: uuid.UUID,
        pseudonym: str,
        what: Read,
        detail: str = "",
        consent: uuid.UUID | None = None,
    ) -> None:
        self.rows.append(
            {
                "household": household_id,
                "pseudonym": pseudonym,
                "reader": self.ctx.user_id,
                "organisation": self.ctx.organisation_id,
                "role": self.ctx.role,
                "what": what,
                "detail": detail,
                "consent": consent,
                "at": clock.now(),
            }
        )

    async def flush(self) -> None:
        rows, self.rows = self.rows, []
        await repository.insert_reads(self.ctx, rows)


async def log_of(
    scope: TenantScope, household_id: uuid.UUID, *, complete: bool = False
) -> list[dict[str, Any]]:
    """The latest 500 reads for the page; `complete`: all of them, for the export."""
    return await repository.reads_of(scope, household_id, None if complete else 500)


def as_csv(
    rows: list[dict[str, Any]], names: dict[uuid.UUID, str], orgs: dict[uuid.UUID, str]
) -> str:
    """One household's read log, for a subject-access request (French headers, Paris time)."""
    out = io.StringIO()
    sheet = CsvSheet(out)  # names are typed by people: never a formula in the export
    sheet.append(
        [
            "Date et heure",
            "Personne",
            "Organisation",
            "Rôle",
            "Ce qui a été lu",
            "Détail",
            "Consentement",
        ]
    )
    for row in rows:
        sheet.append(
            [
                row["at"].astimezone(clock.PARIS).strftime("%d/%m/%Y %H:%M:%S"),
                names.get(row["reader"], str(row["reader"])),
                orgs.get(row["organisation"], str(row["organisation"])),
                row["role"],
                READ_LABELS.get(row["what"], row["what"]),
                row["detail"],
                str(row["consent"] or ""),
            ]
        )
    return out.getvalue()


READ_LABELS = {
    Read.IDENTITY: "Identité",
    Read.SECTION: "Section du diagnostic",
    Read.SHARED_SYNTHESIS: "Synthèse logement transmise",
    Read.ALERT: "Alerte",
    Read.NOTE: "Note",
    Read.EVIDENCE: "Autorisation signée",
    Read.READ_LOG: "Journal des consultations",
}
