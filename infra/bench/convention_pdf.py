"""Benchmark of the convention PDF (not a test): a 30-article partnership convention with a
40-line budget rendered by the portal (`pdf.render`: Jinja2 template, Markdown articles with
variables, budget summary, WeasyPrint), next to WeasyPrint alone rendering the same HTML.

    .venv/bin/python infra/bench/convention_pdf.py      # PORTAL_BENCH_RUNS=7 by default

No database: the snapshot is built in memory, as `versions.freeze` builds it from the tables.
"""

from __future__ import annotations

import io
import os
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import weasyprint
from pypdf import PdfReader

from portal.conventions import models, pdf, snapshot
from portal.conventions.enums import ConventionKind, ExpenseCategory, Funder, PartyRole
from portal.core.pdf import _rendered as rendered

RUNS = int(os.environ.get("PORTAL_BENCH_RUNS", "7"))


def convention_snapshot(body_repeat: int = 1) -> snapshot.Snapshot:
    """`body_repeat` lengthens every article (the signing benchmark wants 30 pages)."""
    base = models.articles(ConventionKind.PARTNERSHIP)
    articles = [
        {
            "id": uuid.uuid4(),
            "title": title if n < len(base) else f"{title} (suite {n // len(base)})",
            "body": "\n\n".join([body] * body_repeat),
            "revision": 1,
        }
        for n, (_key, title, body) in enumerate(base * 3)
    ][:30]
    parties = [
        {
            "organisation": uuid.uuid4(),
            "organisation_name": name,
            "organisation_siret": siret,
            "organisation_city": "Lyon",
            "role": role,
            "signatory_name": f"Signataire {n}",
            "signatory_title": "Directeur général",
        }
        for n, (name, siret, role) in enumerate(
            [
                ("Lyon Métropole Habitat", "27690001300017", PartyRole.LEAD_LESSOR),
                ("Alliade Habitat", "95750373400045", PartyRole.LESSOR),
                ("Est Métropole Habitat", "77975166500024", PartyRole.LESSOR),
                ("Association Le Mas", "77567016900059", PartyRole.ASSOCIATION),
                ("Alynea", "77962098100042", PartyRole.ASSOCIATION),
            ],
            1,
        )
    ]
    expenses = list(ExpenseCategory)
    lines: list[dict[str, Any]] = [
        {
            "side": "expense",
            "category": expenses[n % len(expenses)].value,
            "label": f"Poste de dépense {n + 1}",
            "amount_cents": 1_250_000 + n * 10_050,
            "eligible": expenses[n % len(expenses)].fundable,
            "confirmed": False,
            "in_kind": False,
            "funding_line": "",
        }
        for n in range(25)
    ]
    total = sum(line["amount_cents"] for line in lines)
    funders = list(Funder)
    shares = [total // 15] * 14 + [total - (total // 15) * 14]
    lines += [
        {
            "side": "resource",
            "category": funders[n % len(funders)].value,
            "label": f"Ressource {n + 1}",
            "amount_cents": share,
            "eligible": False,
            "confirmed": n % 2 == 0,
            "in_kind": n % 5 == 1,
            "funding_line": "FNAVDL hors DALO" if n == 0 else "",
        }
        for n, share in enumerate(shares)
    ]
    convention = {
        "id": uuid.uuid4(),
        "kind": ConventionKind.PARTNERSHIP.value,
        "origin": "model",
        "reference": "CP-2027-001",
        "title": "Convention de partenariat AVDL Rhône 2027-2028",
        "project_name": "Logement d'abord Rhône",
        "territory": "Métropole de Lyon",
        "amendment_number": 0,
        "starts_on": "2027-01-01",
        "duration_months": 24,
        "households_target": 120,
        "homes_target": 60,
        "unit_diagnostic_cents": 45_000,
        "unit_accompaniment_cents": 250_000,
        "unit_gla_cents": 80_000,
    }
    variables = {name: f"[{label}]" for name, label in models.VARIABLES.items()}
    variables["bailleur_porteur"] = "Lyon Métropole Habitat"
    return snapshot.build(
        consortium_name="Inter-bailleurs Rhône",
        convention=convention,
        parties=parties,
        articles=articles,
        budget=lines,
        indicators=[
            {"kind": kind.value, "label": label, "target": 100, "unit": unit, "description": ""}
            for kind, label, unit in models.INDICATORS
        ],
        annexes=[],
        variables=variables,
    )


def median_seconds(action: Callable[[], bytes]) -> tuple[float, bytes]:
    action()  # warm-up: font discovery, template compilation
    times, result = [], b""
    for _ in range(RUNS):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    snap = convention_snapshot()
    assert len(snap["articles"]) == 30 and len(snap["budget"]) == 40
    label = "version 1 figée le 22/11/2026"
    document_html = pdf.html(snap, version_label=label, frozen=True)

    def portal() -> bytes:
        rendered.clear()  # a first rendering: `html_to_pdf` keeps the PDFs it made
        return pdf.render(snap, [], version_label=label, frozen=True)

    def portal_again() -> bytes:  # the same version downloaded again
        return pdf.render(snap, [], version_label=label, frozen=True)

    def weasyprint_alone() -> bytes:
        result: bytes = weasyprint.HTML(string=document_html).write_pdf()
        return result

    html_s, _ = median_seconds(lambda: pdf.html(snap, version_label=label, frozen=True).encode())
    portal_s, portal_pdf = median_seconds(portal)
    alone_s, alone_pdf = median_seconds(weasyprint_alone)
    again_s, _ = median_seconds(portal_again)
    pages = len(PdfReader(io.BytesIO(portal_pdf)).pages)
    print(f"30 articles, 40 budget lines, {pages} pages, {len(portal_pdf) / 1024:.0f} KiB")
    print(f"portal pdf.render     median {portal_s * 1000:7.0f} ms over {RUNS} runs")
    print(
        f"WeasyPrint same HTML  median {alone_s * 1000:7.0f} ms ({len(alone_pdf) / 1024:.0f} KiB)"
    )
    print(f"of which HTML (Jinja2, Markdown, budget) median {html_s * 1000:.1f} ms")
    print(f"the same version again (kept PDF) median {again_s * 1000:.1f} ms")
    print(f"ratio portal / WeasyPrint alone: {portal_s / alone_s:.2f}")


if __name__ == "__main__":
    main()
