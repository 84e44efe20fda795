"""Benchmark of one signature (not a test): a 30-page convention with an empty field per
party, signed by the portal, next to pyHanko signing the same file alone with the same key,
the same PAdES settings and a visible stamp.

    .venv/bin/python infra/bench/signing.py      # PORTAL_BENCH_RUNS=11 by default

Three measures of the portal: `pades.signing.sign_field` (field lookup, stamp text and wrapping,
signature), the same with the signer's drawn mark in the stamp, and the job's whole PDF work
(`apply` without its database rows: read the latest revision from storage and check its
SHA-256, sign, hash, store the new revision through the ledger of objects, whose intent and
confirmation are two small writes to the embedded SQLite database). Then both again with a
time-stamp and the validation data (B-LT), from pyHanko's in-process test time-stamper, so no
network is timed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

_TMP = Path(tempfile.mkdtemp(prefix="portal-bench-signing-"))
os.environ.setdefault("PORTAL_DATA_DIR", str(_TMP))  # local storage, test authority

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.pdf_utils.text import TextBoxStyle  # noqa: E402
from pyhanko.sign.fields import SigSeedSubFilter  # noqa: E402
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, SimpleSigner  # noqa: E402
from pyhanko.stamp import TextStampStyle  # noqa: E402
from pypdf import PdfReader  # noqa: E402

from portal.conventions import pdf  # noqa: E402
from portal.core.db import migrate, transaction  # noqa: E402
from portal.settings import get_settings  # noqa: E402
from portal.signing import authority, files  # noqa: E402
from portal.signing.pades.fields import (  # noqa: E402
    FieldSpec,
    add_signature_fields,
    signature_blocks,
)
from portal.signing.pades.marks import Mark  # noqa: E402
from portal.signing.pades.signing import sign_field  # noqa: E402
from portal.signing.pades.validation import validate  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from convention_pdf import convention_snapshot  # noqa: E402

RUNS = int(os.environ.get("PORTAL_BENCH_RUNS", "11"))
FIELD = "signature-bench"
NAME, ORGANISATION = "Élodie Dupont", "Lyon Métropole Habitat"
REASON = "Signature de la convention CP-2027-001 – identité vérifiée par code"
LOCATION = "Portail partenariats Hlm"


def medians(*actions: Callable[[], bytes]) -> list[float]:
    """Median seconds of each action, run in turns so that drift in the machine's speed
    weighs on all of them alike."""
    for action in actions:
        action()  # warm-up
    times: list[list[float]] = [[] for _ in actions]
    for _ in range(RUNS):
        for action, spent in zip(actions, times, strict=True):
            started = time.perf_counter()
            action()
            spent.append(time.perf_counter() - started)
    return [statistics.median(spent) for spent in times]


def thirty_pages() -> bytes:
    for repeat in range(1, 10):
        frozen = pdf.render(convention_snapshot(repeat), [], version_label="version 1", frozen=True)
        if len(PdfReader(io.BytesIO(frozen)).pages) >= 30:
            return frozen
    raise RuntimeError("the convention never reached 30 pages")


def drawing() -> bytes:
    image = Image.new("RGBA", (480, 160), (0, 0, 0, 0))
    ImageDraw.Draw(image).line([(40, 120), (120, 30), (200, 130), (420, 40)], "#1f2933", 3)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def main() -> None:
    # pyHanko warns at every B-LT signature that it may not fetch revocation data: by design.
    logging.getLogger("pyhanko.sign.signers.pdf_signer").setLevel(logging.ERROR)
    frozen = thirty_pages()
    pages = len(PdfReader(io.BytesIO(frozen)).pages)
    parties = sorted(signature_blocks(frozen))
    fields = [FieldSpec(FIELD if n == 1 else f"signature-{n}", n, 0, 1) for n in parties]
    prepared = add_signature_fields(frozen, fields)
    seal = authority.ensure_test_authority(get_settings().signing_dir)
    stamper = authority.test_timestamper(get_settings().signing_dir)
    at = dt.datetime.now(dt.UTC)
    mark = Mark(png=drawing())

    def portal(
        timestamped: bool, with_mark: Mark | None = None, source: bytes = prepared
    ) -> Callable[[], bytes]:
        def run() -> bytes:
            return sign_field(
                source,
                field_name=FIELD,
                seal=seal,
                signer_name=NAME,
                organisation=ORGANISATION,
                reason=REASON,
                location=LOCATION,
                signed_at=at,
                timestamper=stamper if timestamped else None,
                validation_context=(
                    authority.validation_context(seal.trust_roots, seal.crls)
                    if timestamped
                    else None
                ),
                mark=with_mark,
            )

        return run

    # pyHanko's own signer with the same key (the seal's keeps its key loaded).
    bare_signer = SimpleSigner(
        signing_cert=seal.signer.signing_cert,
        signing_key=seal.signer.signing_key,
        cert_registry=seal.signer.cert_registry,
    )

    def pyhanko_alone(timestamped: bool) -> Callable[[], bytes]:
        def run() -> bytes:
            context = authority.validation_context(seal.trust_roots, seal.crls)
            signer = PdfSigner(
                PdfSignatureMetadata(
                    field_name=FIELD,
                    md_algorithm="sha256",
                    subfilter=SigSeedSubFilter.PADES,
                    name=NAME,
                    reason=REASON,
                    location=LOCATION,
                    validation_context=context if timestamped else None,
                    embed_validation_info=timestamped,
                ),
                signer=bare_signer,
                timestamper=stamper if timestamped else None,
                stamp_style=TextStampStyle(
                    stamp_text="Signé par %(signer)s\n%(org)s\nle %(date)s",
                    text_box_style=TextBoxStyle(font_size=9),
                    border_width=1,
                ),
            )
            out = io.BytesIO()
            signer.sign_pdf(
                IncrementalPdfFileWriter(io.BytesIO(prepared)),
                existing_fields_only=True,
                appearance_text_params={
                    "signer": NAME,
                    "org": ORGANISATION,
                    "date": at.strftime("%d/%m/%Y à %H:%M"),
                },
                output=out,
            )
            return out.getvalue()

        return run

    request_id = uuid.uuid4()
    source_key = files.revision_key(request_id, request_id, 1, files.sha256(prepared))
    source_sha = files.sha256(prepared)

    async def store(key: str, data: bytes) -> None:
        async with files.stored(key, data, request_id) as handle, transaction():
            await handle.confirm()

    asyncio.run(migrate())
    asyncio.run(store(source_key, prepared))

    def job_pdf_work() -> bytes:
        async def work() -> bytes:
            data = await files.get(source_key, source_sha)
            signed = await files.cpu(portal(False, source=data))
            await store(files.revision_key(request_id, request_id, 2, files.sha256(signed)), signed)
            return signed

        return asyncio.run(work())

    print(f"{pages}-page convention, {len(prepared) / 1024:.0f} KiB, {len(parties)} empty fields")
    for label, timestamped in (("B-B, no time-stamp", False), ("B-LT, test TSA", True)):
        [report] = validate(portal(timestamped)(), seal.trust_roots, seal.crls)
        assert report.intact and report.valid and report.bottom_line, report.summary_fr
        portal_s, alone_s = medians(portal(timestamped), pyhanko_alone(timestamped))
        print(
            f"{label}: portal sign_field {portal_s * 1000:.0f} ms, pyHanko alone "
            f"{alone_s * 1000:.0f} ms, ratio {portal_s / alone_s:.2f}"
        )
    mark_s, job_s, alone_s = medians(portal(False, mark), job_pdf_work, pyhanko_alone(False))
    print(f"with a drawn mark: {mark_s * 1000:.0f} ms, ratio {mark_s / alone_s:.2f}")
    print(
        f"job's PDF work (storage read, SHA-256 check, sign, store): {job_s * 1000:.0f} ms, "
        f"ratio {job_s / alone_s:.2f}"
    )
    print(f"medians over {RUNS} interleaved runs")


if __name__ == "__main__":
    main()
