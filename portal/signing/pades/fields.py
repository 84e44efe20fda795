"""The empty signature fields, added in one revision to the frozen PDF, one per signer in its
party's `.signature` block."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign.fields import SigFieldSpec, append_signature_field

from portal.signing.pades.errors import UNREADABLE, PadesError

MM = 72 / 25.4

# Geometry of the `.signature` blocks of templates/conventions/pdf.html. The named destination
# is the block's top-left corner; the organisation and role are printed in its left part.
BLOCK_HEIGHT = 48 * MM
BLOCK_WIDTH = 168 * MM
PAGE_RIGHT_MARGIN = 20 * MM
TEXT_PART = 75 * MM
FIELD_TOP_GAP = 6 * MM
FIELD_BOTTOM_GAP = 4 * MM
FIELD_RIGHT_INSET = 4 * MM  # the block's padding
SLOT_GAP = 2 * MM


@dataclass(frozen=True)
class _Block:
    page: int
    left: float
    top: float
    page_right: float


def _blocks(pdf: bytes) -> dict[int, _Block]:
    from pypdf import PdfReader  # here: not loaded by every process at start
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(pdf))
        found: dict[int, _Block] = {}
        for name, dest in reader.named_destinations.items():
            prefix, _, number = str(name).partition("-")
            if prefix != "signature" or not number.isdigit():
                continue
            page = reader.get_destination_page_number(dest)
            if page is None or page < 0 or dest.left is None or dest.top is None:
                continue
            right = float(reader.pages[page].mediabox.right)
            found[int(number)] = _Block(page, float(dest.left), float(dest.top), right)
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise PadesError(UNREADABLE) from exc
    return found


def signature_blocks(pdf: bytes) -> dict[int, tuple[int, tuple[float, float]]]:
    """Party index → (page index, (left, top)) in PDF points of each `signature-N` block, from
    the named destinations WeasyPrint writes for element ids."""
    return {n: (b.page, (b.left, b.top)) for n, b in _blocks(pdf).items()}


@dataclass(frozen=True)
class FieldSpec:
    name: str
    party_index: int  # 1-based, as in `signature-N`
    slot: int  # 0-based among the organisation's signers
    slots: int


def _field_box(block: _Block, slot: int, slots: int) -> tuple[int, int, int, int]:
    # The template's body keeps the browser's default margin, so the block is a little
    # narrower than the text width: never reach past the page's right margin.
    right = min(block.left + BLOCK_WIDTH, block.page_right - PAGE_RIGHT_MARGIN)
    right -= FIELD_RIGHT_INSET
    x0 = block.left + TEXT_PART
    width = (right - x0 - SLOT_GAP * (slots - 1)) / slots
    x = x0 + slot * (width + SLOT_GAP)
    return (
        round(x),
        round(block.top - BLOCK_HEIGHT + FIELD_BOTTOM_GAP),
        round(x + width),
        round(block.top - FIELD_TOP_GAP),
    )


def add_signature_fields(pdf: bytes, fields: Sequence[FieldSpec]) -> bytes:
    """One incremental update adding an empty signature field per spec in its party's block
    (side by side when an organisation has several signers). They exist before anyone signs,
    so each signature only fills its field and the stamps land where the layout expects."""
    if not fields:
        return pdf  # no empty revision
    blocks = _blocks(pdf)
    for spec in fields:
        if spec.party_index not in blocks:
            raise PadesError(
                f"Le PDF de la convention n'a pas d'emplacement de signature pour la partie "
                f"n° {spec.party_index} : il faut générer de nouveau la version figée."
            )
        if not 0 <= spec.slot < spec.slots:
            raise ValueError(f"slot {spec.slot} is outside 0..{spec.slots - 1}")
    try:
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        for spec in fields:
            block = blocks[spec.party_index]
            box = _field_box(block, spec.slot, spec.slots)
            append_signature_field(writer, SigFieldSpec(spec.name, on_page=block.page, box=box))
        out = io.BytesIO()
        writer.write(out)  # type: ignore[no-untyped-call]
    except PdfError as exc:
        raise PadesError(f"Les champs de signature n'ont pas pu être ajoutés : {exc}") from exc
    return out.getvalue()
