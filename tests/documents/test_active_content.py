"""Files that carry something a reader would run: PDFs with active content wherever it hides
(no depth limit), office archives that decompress to a bomb, carry macros or programs. Each is
refused through the upload form with a French message, and nothing is stored."""

from __future__ import annotations

import functools
import html
import io
import re
import struct
import zipfile
from collections.abc import Callable

import httpx
import pytest
from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)

from portal.documents import inspect
from portal.documents.tables import DocumentItem, DocumentVersion
from portal.documents.upload import UploadRefused
from tests.conftest import World
from tests.documents.conftest import make_item, pdf_bytes, send


def _name(value: str) -> NameObject:
    return NameObject(value)


def _javascript(code: str = "app.alert('x');") -> DictionaryObject:
    return DictionaryObject(
        {_name("/S"): _name("/JavaScript"), _name("/JS"): TextStringObject(code)}
    )


def _write(writer: PdfWriter) -> bytes:
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _writer() -> PdfWriter:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    return writer


def javascript_after_chained_next(links: int = 45, indirect: bool = False) -> bytes:
    """An open action that does nothing itself, followed by `links` chained `/Next` actions
    (nested, or as separate objects), the last one JavaScript: beyond any fixed depth."""
    writer = _writer()
    action: DictionaryObject = _javascript()
    for _ in range(links):
        action = DictionaryObject(
            {
                _name("/S"): _name("/GoTo"),
                _name("/D"): ArrayObject([NumberObject(0), _name("/Fit")]),
                _name("/Next"): writer._add_object(action) if indirect else action,
            }
        )
    writer._root_object[_name("/OpenAction")] = action
    return _write(writer)


def page_deep_in_the_tree_with_aa(levels: int = 25) -> bytes:
    """A page 25 levels down the page tree, whose `/AA` runs JavaScript when it opens."""
    writer = PdfWriter()
    page = DictionaryObject(
        {
            _name("/Type"): _name("/Page"),
            _name("/MediaBox"): ArrayObject([NumberObject(n) for n in (0, 0, 595, 842)]),
            _name("/AA"): DictionaryObject({_name("/O"): _javascript()}),
        }
    )
    node: DictionaryObject = page
    for _ in range(levels):
        node = DictionaryObject(
            {
                _name("/Type"): _name("/Pages"),
                _name("/Kids"): ArrayObject([writer._add_object(node)]),
                _name("/Count"): NumberObject(1),
            }
        )
    writer._root_object[_name("/Pages")] = writer._add_object(node)
    return _write(writer)


def xfa_script() -> bytes:
    writer = _writer()
    template = StreamObject()
    template.set_data(
        b'<template xmlns="http://www.xfa.org/schema/xfa-template/3.3/"><subform>'
        b'<event activity="initialize"><script contentType="application/x-javascript">'
        b"xfa.host.messageBox('x');</script></event></subform></template>"
    )
    writer._root_object[_name("/AcroForm")] = DictionaryObject(
        {
            _name("/Fields"): ArrayObject(),
            _name("/XFA"): ArrayObject(
                [TextStringObject("template"), writer._add_object(template)]
            ),
        }
    )
    return _write(writer)


def embedded_executable() -> bytes:
    writer = _writer()
    writer.add_attachment("setup.exe", b"MZ\x90\x00" + b"\x00" * 500)
    return _write(writer)


def _open_action(action: DictionaryObject) -> bytes:
    writer = _writer()
    writer._root_object[_name("/OpenAction")] = writer._add_object(action)
    return _write(writer)


def uri_on_opening() -> bytes:
    return _open_action(
        DictionaryObject(
            {_name("/S"): _name("/URI"), _name("/URI"): TextStringObject("https://x.example/")}
        )
    )


def submit_form() -> bytes:
    return _open_action(
        DictionaryObject(
            {
                _name("/S"): _name("/SubmitForm"),
                _name("/F"): TextStringObject("https://x.example/collect"),
            }
        )
    )


def import_data() -> bytes:
    return _open_action(
        DictionaryObject({_name("/S"): _name("/ImportData"), _name("/F"): TextStringObject("x")})
    )


def launch() -> bytes:
    return _open_action(
        DictionaryObject({_name("/S"): _name("/Launch"), _name("/F"): TextStringObject("cmd")})
    )


def rich_media_annotation() -> bytes:
    writer = _writer()
    annotation = DictionaryObject(
        {
            _name("/Type"): _name("/Annot"),
            _name("/Subtype"): _name("/RichMedia"),
            _name("/Rect"): ArrayObject([NumberObject(n) for n in (0, 0, 10, 10)]),
        }
    )
    writer.pages[0][_name("/Annots")] = ArrayObject([writer._add_object(annotation)])
    return _write(writer)


def link_to_a_web_page() -> bytes:
    """A link the reader clicks: ordinary in a report, allowed."""
    writer = _writer()
    annotation = DictionaryObject(
        {
            _name("/Type"): _name("/Annot"),
            _name("/Subtype"): _name("/Link"),
            _name("/Rect"): ArrayObject([NumberObject(n) for n in (0, 0, 10, 10)]),
            _name("/A"): DictionaryObject(
                {
                    _name("/S"): _name("/URI"),
                    _name("/URI"): TextStringObject("https://www.service-public.fr/"),
                }
            ),
        }
    )
    writer.pages[0][_name("/Annots")] = ArrayObject([writer._add_object(annotation)])
    return _write(writer)


def cycle_of_next_actions() -> bytes:
    """Two harmless actions pointing at each other: the walk ends, the file is accepted."""
    writer = _writer()
    first = DictionaryObject({_name("/S"): _name("/GoTo")})
    second = DictionaryObject({_name("/S"): _name("/GoTo")})
    first_ref, second_ref = writer._add_object(first), writer._add_object(second)
    first[_name("/Next")] = second_ref
    second[_name("/Next")] = first_ref
    writer._root_object[_name("/OpenAction")] = first_ref
    return _write(writer)


async def _refused(
    client: httpx.AsyncClient, world: World, name: str, content: bytes, message: str
) -> None:
    item_id = await make_item(world)
    response = await send(client, world, item_id, name, content, "application/octet-stream")
    assert response.status_code == 400, response.text[:500]
    text = html.unescape(response.text)
    assert message in text, re.findall(r"error-message[^>]*>(.*?)</p>", text, re.S)
    assert 'id="f-file-error"' in response.text
    assert await DocumentVersion.count() == 0
    [item] = await DocumentItem.select(DocumentItem.status)
    assert item["status"] == "expected"


async def _accepted(client: httpx.AsyncClient, world: World, name: str, content: bytes) -> None:
    item_id = await make_item(world)
    response = await send(client, world, item_id, name, content, "application/octet-stream")
    assert response.status_code in (200, 303), html.unescape(response.text)[:800]
    assert await DocumentVersion.count() == 1


PDF_BYPASSES: dict[str, tuple[Callable[[], bytes], str]] = {
    "javascript-after-45-next": (javascript_after_chained_next, "du JavaScript"),
    "page-25-levels-deep-with-aa": (page_deep_in_the_tree_with_aa, "du JavaScript"),
    "xfa-script": (xfa_script, "un formulaire XFA"),
    "embedded-executable": (embedded_executable, "des fichiers intégrés"),
    "uri-on-opening": (uri_on_opening, "l'ouverture automatique d'une adresse web"),
    "submit-form": (submit_form, "l'envoi d'un formulaire"),
    "import-data": (import_data, "l'import de données"),
    "launch": (launch, "le lancement d'un programme"),
    "rich-media": (rich_media_annotation, "un lecteur multimédia"),
}


class TestActivePdf:
    @pytest.mark.parametrize("case", PDF_BYPASSES, ids=list(PDF_BYPASSES))
    async def test_active_content_is_found_wherever_it_hides(
        self, worker_client: httpx.AsyncClient, world: World, case: str
    ) -> None:
        build, what = PDF_BYPASSES[case]
        await _refused(
            worker_client,
            world,
            "rapport.pdf",
            build(),
            f"Ce PDF contient du code actif ou des fichiers cachés ({what}",
        )

    @pytest.mark.parametrize(
        "build",
        [link_to_a_web_page, cycle_of_next_actions, pdf_bytes],
        ids=["link", "cycle", "plain"],
    )
    async def test_ordinary_pdfs_still_pass(
        self, worker_client: httpx.AsyncClient, world: World, build: Callable[[], bytes]
    ) -> None:
        await _accepted(worker_client, world, "rapport.pdf", build())

    def test_a_thousand_chained_actions_are_walked_without_recursion(self) -> None:
        reader_bytes = javascript_after_chained_next(links=5000, indirect=True)
        from pypdf import PdfReader

        assert inspect.active_content(PdfReader(io.BytesIO(reader_bytes)).trailer) == (
            "du JavaScript"
        )


# Office archives -------------------------------------------------------------------------------

ODT_MIMETYPE = b"application/vnd.oasis.opendocument.text"


def _archive(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def docx(extra: dict[str, bytes] | None = None) -> bytes:
    return _archive(
        {
            "[Content_Types].xml": b"<Types/>",
            "word/document.xml": b"<w:document/>",
            **(extra or {}),
        }
    )


@functools.cache
def odt_with_huge_mimetype() -> bytes:
    """The reported case: about 300 KB on the wire, a 300 MiB `mimetype` member."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("mimetype", "w", force_zip64=True) as member:
            member.write(ODT_MIMETYPE)
            block = b" " * (1024 * 1024)
            for _ in range(300):
                member.write(block)
        archive.writestr("content.xml", b"<office:document-content/>")
    return out.getvalue()


def lying_archive() -> bytes:
    """A member that declares 1 KiB and decompresses to 8 MiB: sizes patched in both headers."""
    real = b"<w:document>" + b"a" * (8 * 1024 * 1024) + b"</w:document>"
    data = bytearray(docx({"word/styles.xml": real}))
    declared = 1024
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("word/styles.xml")
        local, size = info.header_offset, info.file_size
    # Local header: uncompressed size at offset 22.
    struct.pack_into("<I", data, local + 22, declared)
    central = data.find(b"PK\x01\x02" + data[local + 4 : local + 6])
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if data[central + 46 : central + 46 + name_length] == b"word/styles.xml":
            assert struct.unpack_from("<I", data, central + 24)[0] == size
            struct.pack_into("<I", data, central + 24, declared)
            break
        central = data.find(b"PK\x01\x02", central + 4)
    return bytes(data)


def damaged_member() -> bytes:
    """A DOCX whose member's compressed bytes were damaged in transit (CRC and sizes intact)."""
    data = bytearray(docx({"word/styles.xml": bytes(range(256)) * 400}))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("word/styles.xml")
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    data[start : start + 16] = b"\xff" * 16
    return bytes(data)


ARCHIVES: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "odt-300-mib-mimetype": (odt_with_huge_mimetype, "rapport.odt", "volume anormal"),
    "docx-bomb": (
        lambda: docx({"word/media/bomb.xml": b"\x00" * (50 * 1024 * 1024)}),
        "rapport.docx",
        "volume anormal",
    ),
    "xlsx-bomb": (
        lambda: _archive(
            {
                "[Content_Types].xml": b"<Types/>",
                "xl/workbook.xml": b"<workbook/>",
                "xl/worksheets/sheet1.xml": b"<c>1</c>" * (3 * 1024 * 1024),
            }
        ),
        "tableau.xlsx",
        "volume anormal",
    ),
    "lying-sizes": (lying_archive, "rapport.docx", "volume anormal"),
    "damaged-member": (damaged_member, "rapport.docx", "n'est pas un document bureautique"),
    "docm-macros": (
        lambda: docx({"word/vbaProject.bin": b"\xd0\xcf\x11\xe0"}),
        "rapport.docx",
        "macros",
    ),
    "xlsm-macros": (
        lambda: _archive(
            {
                "[Content_Types].xml": b"<Types/>",
                "xl/workbook.xml": b"<workbook/>",
                "xl/vbaProject.bin": b"\xd0\xcf\x11\xe0",
            }
        ),
        "tableau.xlsx",
        "macros",
    ),
    "odt-basic-macros": (
        lambda: _archive(
            {"mimetype": ODT_MIMETYPE, "Basic/Standard/Module1.xml": b"<script:module/>"},
            zipfile.ZIP_STORED,
        ),
        "rapport.odt",
        "macros",
    ),
    "docx-with-exe-member": (
        lambda: docx({"word/embeddings/setup.exe": b"MZ\x90\x00" + b"\x00" * 100}),
        "rapport.docx",
        "« setup.exe »",
    ),
    "docx-with-renamed-program": (
        lambda: docx({"word/media/image1.png": b"MZ\x90\x00" + b"\x00" * 100}),
        "rapport.docx",
        "« image1.png »",
    ),
    "legacy-doc-with-macros": (
        lambda: (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
            + b"\x00" * 600
            + "_VBA_PROJECT".encode("utf-16-le")
            + b"\x00" * 600
        ),
        "rapport.doc",
        "macros",
    ),
}


class TestArchives:
    @pytest.mark.parametrize("case", ARCHIVES, ids=list(ARCHIVES))
    async def test_unsafe_archive_is_refused(
        self, worker_client: httpx.AsyncClient, world: World, case: str
    ) -> None:
        build, name, message = ARCHIVES[case]
        await _refused(worker_client, world, name, build(), message)

    async def test_ordinary_office_file_still_passes(
        self, worker_client: httpx.AsyncClient, world: World
    ) -> None:
        # Well-compressed XML, as a real sheet: 4 MiB of regular rows.
        rows = b"".join(b'<row r="%d"><c><v>%d</v></c></row>' % (n, n) for n in range(120_000))
        content = docx(
            {
                "word/document.xml": rows,
                "word/media/image1.png": b"\x89PNG" + bytes(range(256)) * 40,
            }
        )
        await _accepted(worker_client, world, "rapport.docx", content)

    def test_the_bomb_is_refused_before_it_is_decompressed(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        """The declared sizes are enough: nothing is inflated (this would take 300 MiB)."""
        import tracemalloc

        path = tmp_path / "bomb.odt"
        path.write_bytes(odt_with_huge_mimetype())
        tracemalloc.start()
        try:
            with pytest.raises(UploadRefused):
                inspect._zip_type(path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 8 * 1024 * 1024
