"""What a received file really is, decided by its content (never by its name), and whether it
is acceptable: an allow-list of types, PDFs opened with pypdf (encrypted, damaged or active
content refused), display names cleaned up. Messages are for social workers, in French."""

from __future__ import annotations

import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from pypdf import PdfReader
from pypdf.errors import PdfReadError, PyPdfError
from pypdf.generic import DictionaryObject, IndirectObject

from portal.documents.upload import ReceivedFile, UploadRefused


@dataclass(frozen=True)
class FileType:
    code: str
    label: str
    content_type: str
    extension: str


PDF = FileType("pdf", "PDF", "application/pdf", "pdf")
PNG = FileType("png", "image PNG", "image/png", "png")
JPEG = FileType("jpeg", "image JPEG", "image/jpeg", "jpg")
DOCX = FileType(
    "docx",
    "document Word",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "docx",
)
XLSX = FileType(
    "xlsx",
    "tableur Excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xlsx",
)
PPTX = FileType(
    "pptx",
    "présentation PowerPoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "pptx",
)
ODT = FileType("odt", "document OpenDocument", "application/vnd.oasis.opendocument.text", "odt")
ODS = FileType(
    "ods", "tableur OpenDocument", "application/vnd.oasis.opendocument.spreadsheet", "ods"
)
LEGACY_OFFICE = FileType(
    "ole", "document Office (ancien format)", "application/x-ole-storage", "doc"
)
CSV = FileType("csv", "fichier CSV", "text/csv", "csv")

ALLOWED_HINT = (
    "Formats acceptés : PDF, images PNG ou JPEG, documents Word, Excel, OpenDocument, CSV."
)
ACTIVE_PDF_KEYS = ("/JavaScript", "/JS", "/Launch")
# Entries that only hold page content, images, fonts or metadata: not followed, so a large scan
# is checked without loading its images (pypdf keeps every object it resolves in memory).
DATA_KEYS = frozenset(
    {
        "/Contents",
        "/XObject",
        "/Font",
        "/FontFile",
        "/FontFile2",
        "/FontFile3",
        "/ColorSpace",
        "/Thumb",
        "/Metadata",
        "/Parent",
        "/P",
        "/Pattern",
        "/Shading",
        "/ExtGState",
    }
)


def clean_filename(raw: str, file_type: FileType) -> str:
    """A display name: no folders (old browsers send `C:\\...\\rapport.pdf`), a sane length,
    the extension of the real type. Control characters are refused earlier (`check_name`)."""
    name = raw.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        c for c in unicodedata.normalize("NFC", name) if unicodedata.category(c)[0] != "C"
    )
    name = re.sub(r"\s+", " ", name).strip(" .")
    stem = name.rsplit(".", 1)[0] if "." in name else name
    stem = stem[:120] or "document"
    return f"{stem}.{file_type.extension}"


def _zip_type(path: Path) -> FileType | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                mimetype = archive.read("mimetype").decode("ascii", "replace").strip()
                return {ODT.content_type: ODT, ODS.content_type: ODS}.get(mimetype)
            if "[Content_Types].xml" in names:
                if any(n.startswith("word/") for n in names):
                    return DOCX
                if any(n.startswith("xl/") for n in names):
                    return XLSX
                if any(n.startswith("ppt/") for n in names):
                    return PPTX
    except (zipfile.BadZipFile, OSError, KeyError):
        return None
    return None


def _looks_like_csv(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        try:
            text = head.decode("cp1252")
        except UnicodeDecodeError:
            return False
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if not lines:
        return False
    for separator in (";", ",", "\t"):
        counts = {line.count(separator) for line in lines[:-1] or lines}
        if len(counts) == 1 and counts.pop() > 0:
            return True
    return False


def detect(received: ReceivedFile) -> FileType:
    head = received.head
    if received.size == 0:
        raise UploadRefused(
            "Le fichier est vide (0 octet) : vérifiez que vous avez choisi le bon document."
        )
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"PK\x03\x04"):
        found = _zip_type(received.path)
        if found:
            return found
        raise UploadRefused(
            f"Cette archive ZIP n'est pas un document bureautique accepté. {ALLOWED_HINT}"
        )
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return LEGACY_OFFICE
    if head.startswith((b"MZ", b"\x7fELF", b"#!", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe")):
        raise UploadRefused(
            "Ce fichier est un programme exécutable, quel que soit son nom : il est refusé. "
            f"{ALLOWED_HINT}"
        )
    if _looks_like_csv(head):
        return CSV
    raise UploadRefused(f"Ce type de fichier n'est pas accepté. {ALLOWED_HINT}")


def _has_active_content(reader: PdfReader) -> bool:
    seen: set[int] = set()

    def walk(value: object, depth: int = 0) -> bool:
        if depth > 40:
            return False
        if isinstance(value, IndirectObject):
            if value.idnum in seen:
                return False
            seen.add(value.idnum)
            value = value.get_object()
        if isinstance(value, DictionaryObject):
            for key, item in value.items():
                if key in ACTIVE_PDF_KEYS:
                    return True
                if key == "/S" and item in ("/JavaScript", "/Launch"):
                    return True
                if key not in DATA_KEYS and walk(item, depth + 1):
                    return True
        elif isinstance(value, list):
            return any(walk(item, depth + 1) for item in value)
        return False

    return walk(reader.trailer["/Root"])


def check_pdf(path: Path) -> None:
    # An open file, not a path: given a path, pypdf reads the whole file into memory.
    with path.open("rb") as handle:
        _check_pdf(handle)


def _check_pdf(handle: BinaryIO) -> None:
    try:
        reader = PdfReader(handle, strict=True)
        if reader.is_encrypted:
            raise UploadRefused(
                "Ce PDF est protégé par un mot de passe : le portail ne peut pas l'ouvrir. "
                "Enregistrez-le sans protection puis déposez-le à nouveau."
            )
        if len(reader.pages) == 0:
            raise UploadRefused("Ce PDF ne contient aucune page.")
        active = _has_active_content(reader)
    except UploadRefused:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise UploadRefused(
            "Ce PDF est endommagé ou incomplet (envoi interrompu ?) : il ne peut pas être ouvert. "
            "Enregistrez-le à nouveau puis déposez-le."
        ) from exc
    if active:
        raise UploadRefused(
            "Ce PDF contient du code actif (JavaScript ou lancement de programme) : il est refusé "
            "par sécurité. Imprimez-le en PDF pour obtenir une version sans code."
        )


# Browsers send control characters of file names percent-encoded (HTML5 form encoding).
ENCODED_CONTROL = re.compile(r"%(?:[01][0-9a-fA-F]|7[fF])")


def check_name(raw: str) -> None:
    if any(unicodedata.category(c) == "Cc" for c in raw) or ENCODED_CONTROL.search(raw):
        raise UploadRefused(
            "Le nom du fichier contient des caractères invisibles (caractères de contrôle) : "
            "renommez le fichier puis déposez-le à nouveau."
        )


def inspect(received: ReceivedFile) -> FileType:
    check_name(received.filename)
    file_type = detect(received)
    if file_type is PDF:
        check_pdf(received.path)
    return file_type
