"""What a received file really is, decided by its content (never by its name), and whether it
is acceptable: an allow-list of types, PDFs opened with pypdf (encrypted, damaged or active
content refused), display names cleaned up. Messages are for social workers, in French."""

from __future__ import annotations

import re
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from portal.documents.upload import ReceivedFile, UploadRefused

if TYPE_CHECKING:
    from pypdf.generic import DictionaryObject


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
# What a PDF may not carry, wherever it sits: code, programs, form submissions, XFA, multimedia
# players and attached files. The label says what was found, in the refusal message.
ACTIVE_PDF_KEYS = {
    "/JavaScript": "du JavaScript",
    "/JS": "du JavaScript",
    "/Launch": "le lancement d'un programme",
    "/XFA": "un formulaire XFA, qui peut porter des scripts",
    "/RichMedia": "un lecteur multimédia actif",
    "/EmbeddedFiles": "des fichiers intégrés",
    "/EF": "des fichiers intégrés",
}
ACTIVE_PDF_ACTIONS = {
    "/JavaScript": "du JavaScript",
    "/Launch": "le lancement d'un programme",
    "/SubmitForm": "l'envoi d'un formulaire vers un serveur",
    "/ImportData": "l'import de données",
    "/RichMediaExecute": "un lecteur multimédia actif",
    "/GoToE": "l'ouverture d'un fichier intégré",
}
ACTIVE_PDF_SUBTYPES = {
    "/RichMedia": "un lecteur multimédia actif",
    "/FileAttachment": "des fichiers intégrés",
    "/Screen": "un lecteur multimédia actif",
}
# Actions a reader runs by itself (on opening, on a page or field event): there, a link to a web
# address is refused too; a link the reader clicks (`/A` of a link annotation) is allowed.
AUTOMATIC_KEYS = frozenset({"/OpenAction", "/AA"})
# Entries that only hold page content, images, fonts or metadata: not followed, so a large scan
# is checked without loading its images (pypdf keeps every object it resolves in memory).
# Nothing a reader runs can sit there; `/Parent` and `/P` point back at objects already seen.
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


# Zip bombs: what the members of an office file may decompress to. Office XML compresses
# about 10 to 20 times; a very regular sheet can reach 100. The sizes the archive declares
# are checked first, then held to while reading, since an archive may lie about them.
ARCHIVE_MAX_MEMBERS = 5000
ARCHIVE_MAX_TOTAL = 256 * 1024 * 1024
ARCHIVE_MAX_RATIO = 100
ARCHIVE_RATIO_FLOOR = 1024 * 1024  # small members may compress as well as they like
ARCHIVE_CHUNK = 64 * 1024
MACRO_MEMBERS = ("vbaproject.bin", "vbadata.xml")
MACRO_FOLDERS = ("basic/", "scripts/")  # OpenDocument macros
EXECUTABLE_SUFFIXES = (
    ".exe",
    ".dll",
    ".com",
    ".scr",
    ".bat",
    ".cmd",
    ".msi",
    ".ps1",
    ".vbs",
    ".vbe",
    ".js",
    ".jse",
    ".wsf",
    ".hta",
    ".jar",
    ".sh",
    ".app",
    ".lnk",
    ".cpl",
)
EXECUTABLE_MAGIC = (b"MZ", b"\x7fELF", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe", b"#!")
ARCHIVE_TOO_BIG = (
    "Ce document se décompresse en un volume anormal (archive piégée ?) : il est refusé. "
    "Enregistrez-le à nouveau depuis votre logiciel ou envoyez-le en PDF."
)


def _zip_type(path: Path) -> FileType | None:
    """The office type of a ZIP, after checking every member (`UploadRefused` when one is
    unsafe); None when it is not an office document or not a readable archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            _check_declared_sizes(infos)
            names = {info.filename for info in infos}
            mimetype = b""
            for info in infos:
                head = _read_member(archive, info)
                if info.filename == "mimetype":
                    mimetype = head
            _check_members(names)
            if "mimetype" in names:
                found = mimetype.decode("ascii", "replace").strip()
                return {ODT.content_type: ODT, ODS.content_type: ODS}.get(found)
            if "[Content_Types].xml" in names:
                if any(n.startswith("word/") for n in names):
                    return DOCX
                if any(n.startswith("xl/") for n in names):
                    return XLSX
                if any(n.startswith("ppt/") for n in names):
                    return PPTX
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        KeyError,
        EOFError,
        NotImplementedError,
        RuntimeError,
        ValueError,
        zlib.error,  # a member whose compressed bytes are damaged
    ):
        return None
    return None


def _check_declared_sizes(infos: list[zipfile.ZipInfo]) -> None:
    if len(infos) > ARCHIVE_MAX_MEMBERS:
        raise UploadRefused(ARCHIVE_TOO_BIG)
    if sum(info.file_size for info in infos) > ARCHIVE_MAX_TOTAL:
        raise UploadRefused(ARCHIVE_TOO_BIG)
    for info in infos:
        if info.file_size > ARCHIVE_RATIO_FLOOR and (
            info.file_size > ARCHIVE_MAX_RATIO * max(info.compress_size, 1)
        ):
            raise UploadRefused(ARCHIVE_TOO_BIG)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> bytes:
    """Decompresses one member in chunks, never past the size it declared, and returns its
    first bytes; a member that starts like a program is refused."""
    head = b""
    budget = info.file_size
    with archive.open(info) as member:
        while chunk := member.read(ARCHIVE_CHUNK):
            if not head:
                head = chunk[:64]
                if head.startswith(EXECUTABLE_MAGIC):
                    raise UploadRefused(_carries_program(info.filename))
            budget -= len(chunk)
            if budget < 0:
                raise UploadRefused(ARCHIVE_TOO_BIG)
    return head


def _check_members(names: set[str]) -> None:
    for name in names:
        lowered = name.lower()
        if lowered.rsplit("/", 1)[-1] in MACRO_MEMBERS or lowered.startswith(MACRO_FOLDERS):
            raise UploadRefused(
                "Ce document contient des macros (code exécutable) : il est refusé par "
                "sécurité. Enregistrez-le sans macros (par exemple en .docx ou .xlsx) ou en PDF."
            )
        if lowered.endswith(EXECUTABLE_SUFFIXES):
            raise UploadRefused(_carries_program(name))


def _carries_program(name: str) -> str:
    shown = name.rsplit("/", 1)[-1][:80]
    return (
        f"Ce document contient un programme (« {shown} ») : il est refusé par sécurité. "
        "Retirez l'élément intégré ou envoyez le document en PDF."
    )


# Legacy Office (OLE) files keep macros in a stream named _VBA_PROJECT (Word and Excel alike);
# directory names are stored in UTF-16.
OLE_MACRO_MARK = "_VBA_PROJECT".encode("utf-16-le")


def _check_legacy_office(path: Path) -> None:
    tail = b""
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            if OLE_MACRO_MARK in tail + chunk:
                raise UploadRefused(
                    "Ce document contient des macros (code exécutable) : il est refusé par "
                    "sécurité. Enregistrez-le sans macros (en .docx ou .xlsx) ou en PDF."
                )
            tail = chunk[-len(OLE_MACRO_MARK) :]


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


def active_content(root: object) -> str | None:
    """What active content the object graph under `root` holds, or None. The walk is
    iterative with a visited set, so no nesting depth or chain of `/Next` actions hides
    anything, and cycles end. An object is seen again when reached from an automatic trigger,
    where a web address counts as active."""
    from pypdf.generic import DictionaryObject, IndirectObject

    stack: list[tuple[object, bool]] = [(root, False)]
    seen: set[tuple[int, int, bool]] = set()
    while stack:
        value, automatic = stack.pop()
        if isinstance(value, IndirectObject):
            mark = (value.idnum, value.generation, automatic)
            if mark in seen:
                continue
            seen.add(mark)
            value = value.get_object()
        if isinstance(value, DictionaryObject):
            found = _active_entry(value, automatic)
            if found:
                return found
            for key, item in value.items():
                if key not in DATA_KEYS:
                    stack.append((item, automatic or key in AUTOMATIC_KEYS))
        elif isinstance(value, list):
            stack.extend((item, automatic) for item in value)
    return None


def _active_entry(value: DictionaryObject, automatic: bool) -> str | None:
    for key in value:
        if key in ACTIVE_PDF_KEYS:
            return ACTIVE_PDF_KEYS[key]
    action = value.get("/S")
    if action in ACTIVE_PDF_ACTIONS:
        return ACTIVE_PDF_ACTIONS[str(action)]
    if automatic and action == "/URI":
        return "l'ouverture automatique d'une adresse web"
    subtype = value.get("/Subtype")
    if subtype in ACTIVE_PDF_SUBTYPES:
        return ACTIVE_PDF_SUBTYPES[str(subtype)]
    if value.get("/Type") == "/EmbeddedFile":
        return "des fichiers intégrés"
    return None


def check_pdf(path: Path) -> None:
    # An open file, not a path: given a path, pypdf reads the whole file into memory.
    with path.open("rb") as handle:
        _check_pdf(handle)


def _check_pdf(handle: BinaryIO) -> None:
    from pypdf import PdfReader  # here: not loaded by every process at start
    from pypdf.errors import PdfReadError, PyPdfError

    try:
        reader = PdfReader(handle, strict=True)
        if reader.is_encrypted:
            raise UploadRefused(
                "Ce PDF est protégé par un mot de passe : le portail ne peut pas l'ouvrir. "
                "Enregistrez-le sans protection puis déposez-le à nouveau."
            )
        if len(reader.pages) == 0:
            raise UploadRefused("Ce PDF ne contient aucune page.")
        active = active_content(reader.trailer)
    except UploadRefused:
        raise
    # RecursionError: pypdf parses nested arrays and dictionaries recursively; zlib.error: a
    # damaged compressed object stream.
    except (
        PdfReadError,
        PyPdfError,
        ValueError,
        KeyError,
        TypeError,
        OSError,
        RecursionError,
        zlib.error,
    ) as exc:
        raise UploadRefused(
            "Ce PDF est endommagé ou incomplet (envoi interrompu ?) : il ne peut pas être ouvert. "
            "Enregistrez-le à nouveau puis déposez-le."
        ) from exc
    if active:
        raise UploadRefused(
            f"Ce PDF contient du code actif ou des fichiers cachés ({active}) : il est refusé "
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
    elif file_type is LEGACY_OFFICE:
        _check_legacy_office(received.path)
    return file_type
