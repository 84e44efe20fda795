"""HTML to PDF (WeasyPrint), for the conventions, the signing certificate and the statements."""

from __future__ import annotations


def html_to_pdf(html: str) -> bytes:
    # Imported here, not at the top: loading WeasyPrint (its cffi declarations of Pango) takes
    # about a second of CPU, which every `portal` process paid at start, most never rendering.
    import weasyprint

    pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf
