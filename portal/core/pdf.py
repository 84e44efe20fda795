"""HTML to PDF (WeasyPrint), for the conventions, the signing certificate and the statements."""

from __future__ import annotations

import threading
from typing import Any

# One font configuration per thread, kept: building one (fontconfig's setup) took a quarter
# of a convention's rendering. Pango's font map is not thread-safe, and renderings run in
# worker threads, hence one each rather than one for the process.
_local = threading.local()


def html_to_pdf(html: str) -> bytes:
    # Imported here, not at the top: loading WeasyPrint (its cffi declarations of Pango) takes
    # about a second of CPU, which every `portal` process paid at start, most never rendering.
    import weasyprint

    pdf: bytes = weasyprint.HTML(string=html).write_pdf(font_config=_font_config())
    return pdf


def _font_config() -> Any:
    config = getattr(_local, "font_config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _local.font_config = FontConfiguration()
    return config
