"""A real one-page PDF, as a scanner would produce (the upload checks read PDFs)."""

from __future__ import annotations

import io

from pypdf import PdfWriter


def one_page() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
