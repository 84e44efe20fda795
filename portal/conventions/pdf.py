"""A convention version to PDF: Jinja2 HTML rendered by WeasyPrint, uploaded annexes appended
with pypdf. CPU-bound: callers run it in a worker thread."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from portal.conventions import budget, lifecycle, text
from portal.conventions.enums import (
    ConventionKind,
    ExpenseCategory,
    Funder,
    IndicatorKind,
    PartyRole,
)
from portal.conventions.snapshot import Snapshot
from portal.core.pdf import html_to_pdf
from portal.core.templating import env


def _convention_values(snapshot: Snapshot) -> dict[str, Any]:
    convention = dict(snapshot["convention"])
    if convention.get("starts_on"):
        convention["starts_on"] = dt.date.fromisoformat(convention["starts_on"])
    return convention


def html(snapshot: Snapshot, *, version_label: str, frozen: bool) -> str:
    convention = _convention_values(snapshot)
    variables = snapshot["variables"]
    lines = snapshot["budget"]
    return env.get_template("conventions/pdf.html").render(
        snapshot=snapshot,
        convention=convention,
        kind_label=ConventionKind(convention["kind"]).label,
        ends_on=lifecycle.ends_on(convention),
        articles=[
            {"title": a["title"], "html": text.render(a["body"], variables)}
            for a in snapshot["articles"]
        ],
        parties=[{**p, "role_label": PartyRole(p["role"]).label} for p in snapshot["parties"]],
        expenses=[
            {**line, "category_label": ExpenseCategory(line["category"]).label}
            for line in lines
            if line["side"] == budget.EXPENSE
        ],
        resources=[
            {**line, "funder_label": Funder(line["category"]).label}
            for line in lines
            if line["side"] == budget.RESOURCE
        ],
        summary=budget.summarise(lines, convention),
        indicators=[
            {**i, "kind_label": IndicatorKind(i["kind"]).label} for i in snapshot["indicators"]
        ],
        version_label=version_label,
        frozen=frozen,
    )


def append_annexes(main: bytes, annexes: Sequence[Path]) -> bytes:
    if not annexes:
        return main
    from pypdf import PdfReader, PdfWriter  # here: not loaded by every process at start

    # Cloned, not appended: keeps the title, author and named destinations of the main file.
    writer = PdfWriter(clone_from=io.BytesIO(main))
    for path in annexes:
        with path.open("rb") as handle:
            writer.append(PdfReader(handle))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def render(
    snapshot: Snapshot, annexes: Sequence[Path], *, version_label: str, frozen: bool
) -> bytes:
    return append_annexes(
        html_to_pdf(html(snapshot, version_label=version_label, frozen=frozen)), annexes
    )
