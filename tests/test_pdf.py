"""HTML to PDF: a document downloaded again is not rendered again."""

from __future__ import annotations

import io
import uuid

import pytest
from pypdf import PdfReader

from portal.core import pdf


def page_text(document: bytes) -> str:
    return PdfReader(io.BytesIO(document)).pages[0].extract_text()


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    import weasyprint

    counted: list[int] = []
    original = weasyprint.HTML.write_pdf

    def write_pdf(self: weasyprint.HTML, *args: object, **kwargs: object) -> bytes:
        counted.append(1)
        result: bytes = original(self, *args, **kwargs)  # type: ignore[arg-type]
        return result

    monkeypatch.setattr(weasyprint.HTML, "write_pdf", write_pdf)
    return counted


def test_the_same_html_is_rendered_once_and_a_changed_one_again(renders: list[int]) -> None:
    tag = uuid.uuid4().hex[:8]
    html = f"<p>Convention de partenariat {tag}, article 1</p>"
    first = pdf.html_to_pdf(html)
    assert pdf.html_to_pdf(html) == first
    assert len(renders) == 1
    changed = pdf.html_to_pdf(html.replace("article 1", "article 2"))
    assert len(renders) == 2
    assert f"{tag}, article 2" in page_text(changed)
    assert f"{tag}, article 1" in page_text(first)


def test_the_kept_pdfs_stay_within_their_bound(
    renders: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = uuid.uuid4().hex[:8]
    one, two = f"<p>Bilan {tag} 1</p>", f"<p>Bilan {tag} 2</p>"
    size = len(pdf.html_to_pdf(one))
    monkeypatch.setattr(pdf, "CACHE_BYTES", size + size // 2)  # room for one of them
    pdf.html_to_pdf(two)  # the least recently used, `one`, makes room
    pdf.html_to_pdf(two)
    assert len(renders) == 2
    pdf.html_to_pdf(one)
    assert len(renders) == 3
    assert sum(len(p) for p in pdf._rendered.values()) <= pdf.CACHE_BYTES
