"""HTML to PDF (WeasyPrint), for the conventions, the signing certificate and the statements."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

# One font configuration per thread, kept: building one (fontconfig's setup) took a quarter
# of a convention's rendering. Pango's font map is not thread-safe, and renderings run in
# worker threads, hence one each rather than one for the process.
_local = threading.local()

# The PDFs of the last HTML documents rendered, by the document's SHA-256: the same draft or
# review version downloaded again, by its author or each reviewer, is the same HTML, and a
# rendering costs one to three seconds of CPU. The PDF is a function of the HTML alone, so a
# document only ever comes back to whoever sends its very text again.
CACHE_BYTES = 32 * 1024 * 1024
_rendered: OrderedDict[bytes, bytes] = OrderedDict()
_rendered_lock = threading.Lock()


def html_to_pdf(html: str) -> bytes:
    key = hashlib.sha256(html.encode()).digest()
    with _rendered_lock:
        found = _rendered.get(key)
        if found is not None:
            _rendered.move_to_end(key)
            return found
    # Imported here, not at the top: loading WeasyPrint (its cffi declarations of Pango) takes
    # about a second of CPU, which every `portal` process paid at start, most never rendering.
    import weasyprint

    pdf: bytes = weasyprint.HTML(string=html).write_pdf(font_config=_font_config())
    _remember(key, pdf)
    return pdf


def _remember(key: bytes, pdf: bytes) -> None:
    with _rendered_lock:
        _rendered[key] = pdf
        total = sum(len(p) for p in _rendered.values())
        while total > CACHE_BYTES and _rendered:
            _, dropped = _rendered.popitem(last=False)  # the least recently used
            total -= len(dropped)


def _font_config() -> Any:
    config = getattr(_local, "font_config", None)
    if config is None:
        from weasyprint.text.fonts import FontConfiguration

        config = _local.font_config = FontConfiguration()
    return config
