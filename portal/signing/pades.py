"""PAdES operations with pyHanko: pure and synchronous, bytes in and bytes out (callers run
them in a worker thread; pyHanko's sync wrappers start their own event loop).

Everything after the freeze is an incremental update: the empty signature fields in one
revision, then one revision per signature (its validation data in the same revision, so the
latest signature always covers the whole file), then the closing document time-stamp. Nothing
is drawn into page content and nothing is rewritten, or earlier signatures would no longer
validate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import textwrap
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from asn1crypto import crl as asn1_crl  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from PIL import Image, UnidentifiedImageError
from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign.ades.qualified_asn1 import get_qc_statements
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import (
    SigFieldSpec,
    SigSeedSubFilter,
    append_signature_field,
    enumerate_sig_fields,
)
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, PdfTimeStamper
from pyhanko.sign.signers.pdf_signer import (
    DSSContentSettings,
    SigDSSPlacementPreference,
    TimestampDSSContentSettings,
)
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko.sign.validation import (
    EmbeddedPdfSignature,
    validate_pdf_signature,
    validate_pdf_timestamp,
)
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import (
    DocumentTimestampStatus,
    PdfSignatureStatus,
    SignatureCoverageLevel,
)
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from portal.signing import authority
from portal.signing.authority import Seal

PARIS = ZoneInfo("Europe/Paris")
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

STAMP_TEXT = "Signé par %(signer)s\n%(org)s\nle %(date)s"
MARK_MAX_PIXELS = 2000 * 800  # the signing pad exports 480 × 160: anything huge is refused
DRAWING_TEXT_SHARE = 0.45  # of the field's height kept under a drawn mark for the text
STAMP_FONT_SIZE = 9  # Courier: each character is 0.6 × this wide
STAMP_MARGIN = 10  # pyHanko's text box margin, in points
STAMP_MIN_COLUMNS = 22  # "le 22/11/2026 à 14:05" stays on one line
SEAL_FIELD = "cachet-portail"

# What may follow a signature without invalidating it: validation data, time-stamps, other
# signatures filling their own fields.
ALLOWED_AFTER = frozenset(
    level.name
    for level in (
        ModificationLevel.NONE,
        ModificationLevel.LTA_UPDATES,
        ModificationLevel.FORM_FILLING,
    )
)
# Either key usage is enough on a signing certificate (pyHanko's default demands
# nonRepudiation, which some advanced and seal certificates lack).
KEY_USAGE = frozenset({"digital_signature", "non_repudiation"})
# The document is signed with the portal's validation data in the signature's own revision
# (no VRI, which would force a separate revision after it).
DSS_WITH_SIGNATURE = DSSContentSettings(
    placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE, include_vri=False
)


class PadesError(Exception):
    """A PDF signature operation failed; `message` is shown to users (French)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TimestampUnavailable(PadesError):
    """The time-stamping authority did not answer: nothing was produced, retry later."""


class ExternalRejected(PadesError):
    """A file signed outside the portal is refused; `message` says why."""


UNREADABLE = "Ce fichier n'est pas un PDF lisible."


# Signature fields -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Block:
    page: int
    left: float
    top: float
    page_right: float


def _blocks(pdf: bytes) -> dict[int, _Block]:
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


# Signing ----------------------------------------------------------------------------------------


def _french_datetime(at: dt.datetime) -> str:
    local = at.astimezone(PARIS)
    return f"{local:%d/%m/%Y} à {local:%H:%M}"


# Typographic characters outside what the stamp's standard font (Courier, WinAnsi) shows.
_STAMP_REPLACEMENTS: dict[int, str | int | None] = {
    **str.maketrans("’‘“”–—\u202fŁłĐđ", "''\"\"-- LlDd"),
    ord("…"): "...",
    ord("œ"): "oe",
    ord("Œ"): "OE",
}


def _stamp_safe(text: str) -> str:
    """pyHanko writes stamp text in PDFDocEncoding for a WinAnsi font: both agree on ASCII and
    Latin-1 letters only, so anything else is simplified (œ → oe, Ł → L…)."""
    out = []
    for char in text.translate(_STAMP_REPLACEMENTS):
        if char == "\n" or 0x20 <= ord(char) < 0x7F or 0xA0 <= ord(char) <= 0xFF:
            out.append(char)
        else:
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            out.append(base or "?")
    return "".join(out)


@dataclass(frozen=True)
class _Field:
    signed: bool
    width: float  # of its widget, in points (0 when invisible)
    height: float


def _find_field(pdf: bytes, field_name: str) -> _Field | None:
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        for _name, value, ref in enumerate_sig_fields(reader, with_name=field_name):
            field = ref.get_object()
            widget = field["/Kids"][0].get_object() if "/Kids" in field else field
            rect = [float(v) for v in widget.get("/Rect", (0, 0, 0, 0))]
            return _Field(
                signed=value is not None,
                width=abs(rect[2] - rect[0]),
                height=abs(rect[3] - rect[1]),
            )
    except (PdfError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise PadesError(UNREADABLE) from exc
    return None


def _stamp_lines(text: str, width: float) -> str:
    """Wraps each line to the widget's width (the stamp has no word wrap and shrinks whatever
    overflows, so one long organisation name would make the whole stamp tiny)."""
    columns = max(STAMP_MIN_COLUMNS, int((width - 2 * STAMP_MARGIN) / (0.6 * STAMP_FONT_SIZE)))
    wrapped = []
    for line in text.split("\n"):
        wrapped += textwrap.wrap(line, columns, break_on_hyphens=False) or [""]
    return "\n".join(wrapped)


TSA_DOWN = (
    "L'autorité d'horodatage n'a pas délivré de jeton (injoignable ou demande refusée) : "
    "l'opération sera refaite dès qu'elle répondra."
)


def _run(sign: Callable[[], object], *, timestamped: bool) -> None:
    """Runs a pyHanko signing call, translating its failures (French messages)."""
    try:
        sign()
    except TimestampRequestError as exc:  # refused, malformed reply, or transport failure
        raise TimestampUnavailable(TSA_DOWN) from exc
    except OSError as exc:  # time-outs and connection errors that escaped pyHanko's wrapping
        if not timestamped:
            raise
        raise TimestampUnavailable(TSA_DOWN) from exc
    except (PathBuildingError, PathValidationError) as exc:
        # Only the time-stamping certificate's validation raises these unwrapped.
        raise PadesError(
            "Le certificat de l'autorité d'horodatage n'est pas reconnu : ajoutez son "
            "autorité racine aux autorités de confiance du portail."
        ) from exc
    except SigningError as exc:
        if isinstance(exc.__cause__, (PathBuildingError, PathValidationError)):
            raise PadesError(
                "Le certificat de cachet n'est pas validé par les autorités de confiance du "
                "portail (chaîne incomplète, certificat expiré ou révoqué)."
            ) from exc
        raise PadesError(f"La signature n'a pas pu être apposée : {exc}") from exc
    except PdfError as exc:
        raise PadesError(f"La signature n'a pas pu être apposée sur ce PDF : {exc}") from exc


@dataclass(frozen=True)
class Mark:
    """The signer's chosen mark, shown in the stamp above the verified name: a typed text
    (when it differs from that name) or a drawn PNG."""

    text: str = ""
    png: bytes = b""


def drawn_mark(png: bytes) -> Image.Image:
    """The drawn mark cropped to its strokes; PadesError when it is not a usable PNG."""
    unusable = PadesError("Le tracé de la signature est illisible : recommencez.")
    try:
        with Image.open(io.BytesIO(png)) as image:
            if image.format != "PNG" or image.width * image.height > MARK_MAX_PIXELS:
                raise unusable
            drawing = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise unusable from exc
    box = drawing.getchannel("A").getbbox()
    if box is None:
        raise PadesError("Le cadre de signature est vide : tracez votre signature.")
    return drawing.crop(box)


def _stamp_style(mark: Mark | None, field_height: float) -> TextStampStyle:
    text_box = TextBoxStyle(font_size=STAMP_FONT_SIZE)
    if mark is None or not mark.png:
        return TextStampStyle(stamp_text="%(text)s", text_box_style=text_box, border_width=1)
    # As on paper: the drawing in the upper part, the printed name and date under it.
    lower = round(field_height * DRAWING_TEXT_SHARE)
    return TextStampStyle(
        stamp_text="%(text)s",
        text_box_style=text_box,
        border_width=1,
        background=PdfImage(drawn_mark(mark.png)),
        background_opacity=1.0,
        background_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MAX,
            margins=layout.Margins(left=6, right=6, top=4, bottom=lower),
        ),
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MID,
            y_align=layout.AxisAlignment.ALIGN_MIN,
            margins=layout.Margins(left=STAMP_MARGIN, right=STAMP_MARGIN, bottom=4),
        ),
    )


def sign_field(
    pdf: bytes,
    *,
    field_name: str,
    seal: Seal,
    signer_name: str,
    organisation: str,
    reason: str,
    location: str,
    signed_at: dt.datetime,
    timestamper: TimeStamper | None,
    validation_context: ValidationContext | None,
    mark: Mark | None = None,
) -> bytes:
    """Fills the empty field `field_name` with a PAdES signature in a new revision, with a
    visible stamp (the mark, the verified name, the organisation, the date). With a
    time-stamper: B-LT (token plus validation data), and never without the token
    (TimestampUnavailable); without one: B-B."""
    field = _find_field(pdf, field_name)
    if field is None:
        raise PadesError(f"Le champ de signature « {field_name} » est absent du document.")
    if field.signed:
        raise PadesError(f"Le champ de signature « {field_name} » est déjà signé.")
    if timestamper is not None and validation_context is None:
        validation_context = authority.validation_context(seal.trust_roots, seal.crls)
    metadata = PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        name=signer_name,
        reason=reason,
        location=location,
        signer_key_usage=set(KEY_USAGE),
        validation_context=validation_context if timestamper is not None else None,
        embed_validation_info=timestamper is not None,
        dss_settings=DSS_WITH_SIGNATURE,
    )
    signer = PdfSigner(
        metadata,
        signer=seal.signer,
        timestamper=timestamper,
        stamp_style=_stamp_style(mark, field.height),
    )
    out = io.BytesIO()
    text = STAMP_TEXT % {
        "signer": signer_name,
        "org": organisation,
        "date": _french_datetime(signed_at),
    }
    if mark is not None and mark.text and mark.text.strip() != signer_name:
        text = f"« {mark.text.strip()} »\n{text}"
    params = {"text": _stamp_lines(_stamp_safe(text), field.width)}
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    _run(
        lambda: signer.sign_pdf(
            writer, existing_fields_only=True, appearance_text_params=params, output=out
        ),
        timestamped=timestamper is not None,
    )
    return out.getvalue()


def seal_document(pdf: bytes, *, seal: Seal, reason: str, timestamper: TimeStamper | None) -> bytes:
    """An invisible seal (new field) over a whole document, e.g. the signature certificate."""
    context = authority.validation_context(seal.trust_roots, seal.crls) if timestamper else None
    metadata = PdfSignatureMetadata(
        field_name=SEAL_FIELD,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        reason=reason,
        signer_key_usage=set(KEY_USAGE),
        validation_context=context,
        embed_validation_info=context is not None,
        dss_settings=DSS_WITH_SIGNATURE,
    )
    signer = PdfSigner(metadata, signer=seal.signer, timestamper=timestamper)
    out = io.BytesIO()
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    _run(lambda: signer.sign_pdf(writer, output=out), timestamped=timestamper is not None)
    return out.getvalue()


def timestamp_document(
    pdf: bytes, *, timestamper: TimeStamper, validation_context: ValidationContext
) -> bytes:
    """The closing document time-stamp (PAdES B-LTA), the authority's validation data written
    just before it so that it covers them and the whole file."""
    stamper = PdfTimeStamper(timestamper, field_name=f"horodatage-{uuid.uuid4().hex}")
    out = io.BytesIO()
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    _run(
        lambda: stamper.timestamp_pdf(
            writer,
            "sha256",
            validation_context=validation_context,
            dss_settings=TimestampDSSContentSettings(update_before_ts=True, include_vri=False),
            output=out,
        ),
        timestamped=True,
    )
    return out.getvalue()


# Validation -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureReport:
    field_name: str
    signer_name: str  # /Name of the signature, else the certificate's common name
    organisation: str  # the certificate subject's organisation, else its whole subject
    issuer: str  # the issuing authority's common name
    signed_at: dt.datetime | None  # time claimed by the signer (not proof)
    timestamp_at: dt.datetime | None  # time certified by a valid, trusted time-stamp token
    is_document_timestamp: bool
    intact: bool  # the signed bytes are unchanged
    valid: bool  # the cryptographic signature is correct
    trusted: bool  # the certificate chains to an accepted authority
    covers_whole_document: bool
    modification_level: str  # NONE, LTA_UPDATES, FORM_FILLING, ANNOTATIONS, OTHER
    bottom_line: bool  # overall verdict, including what was appended afterwards
    subfilter: str
    revision_sha256: str  # of the file up to the end of this signature's revision
    qualified: bool  # the certificate declares QcCompliance (not checked against a trust list)
    certificate_subject: str
    certificate_issuer: str
    summary_fr: str


@dataclass(frozen=True)
class _Checked:
    report: SignatureReport
    end: int  # offset where the signed revision ends
    certifies: bool  # a certification (DocMDP) signature


def _common_name(name: asn1_x509.Name) -> str:
    cn = name.native.get("common_name")
    if isinstance(cn, list):
        cn = cn[0]
    return str(cn) if cn else name.human_friendly


def _organisation(name: asn1_x509.Name) -> str:
    org = name.native.get("organization_name")
    if isinstance(org, list):
        org = ", ".join(org)
    return str(org) if org else name.human_friendly


def _qualified(cert: asn1_x509.Certificate) -> bool:
    """QcCompliance (0.4.0.1862.1.1) among the qcStatements: the issuer claims an EU qualified
    certificate. Only a trusted-list check would prove it; this is shown as information."""
    try:
        return any(
            s["statement_id"].native in ("qc_compliance", "0.4.0.1862.1.1")
            for s in get_qc_statements(cert)
        )
    except (ValueError, TypeError, KeyError):
        return False


def _summary(
    *,
    timestamp: bool,
    signer: str,
    when: dt.datetime | None,
    certified_time: bool,
    intact: bool,
    valid: bool,
    trusted: bool,
    level: str,
    bottom_line: bool,
    issuer: str,
) -> str:
    what = "Horodatage du document" if timestamp else "Signature"
    whose = "" if timestamp else f" de {signer}"
    if not intact:
        return f"{what}{whose} invalide : le document a été modifié après coup."
    if not valid:
        return f"{what}{whose} invalide : la signature électronique ne correspond pas."
    if not trusted:
        return (
            f"{what}{whose} intacte, mais son certificat est émis par « {issuer} », "
            "une autorité non reconnue."
        )
    if level not in ALLOWED_AFTER:
        return (
            f"{what}{whose} intacte, mais le document a été modifié depuis (contenu ou pages "
            "changés)."
        )
    if not bottom_line:
        return f"{what}{whose} intacte, mais son horodatage ou ses contraintes ne sont pas valides."
    if when is None:
        return f"{what}{whose} valide."
    how = "heure certifiée par horodatage" if certified_time else "heure déclarée par le signataire"
    verb = "apposé" if timestamp else "apposée"
    return f"{what} valide{whose}, {verb} le {_french_datetime(when)} ({how})."


def _check_one(
    emb: EmbeddedPdfSignature,
    pdf: bytes,
    trust_roots: Sequence[asn1_x509.Certificate],
    crls: Sequence[asn1_crl.CertificateList],
) -> _Checked:
    is_ts = emb.sig_object_type == "/DocTimeStamp"
    signer_context = authority.validation_context(trust_roots, crls)
    ts_context = authority.validation_context(trust_roots, crls, for_timestamps=True)
    status: PdfSignatureStatus | DocumentTimestampStatus
    if is_ts:
        status = validate_pdf_timestamp(emb, validation_context=ts_context)
    else:
        status = validate_pdf_signature(
            emb,
            signer_validation_context=signer_context,
            ts_validation_context=ts_context,
            key_usage_settings=KeyUsageConstraints(key_usage=set(KEY_USAGE)),
        )
    level_enum = status.modification_level
    level = level_enum.name if level_enum is not None else ModificationLevel.OTHER.name
    signed_at: dt.datetime | None = None
    timestamp_at: dt.datetime | None = None
    if isinstance(status, DocumentTimestampStatus):
        timestamp_at = status.timestamp
        # pyHanko gives document time-stamps no overall verdict: integrity, trust and what
        # was appended afterwards make one.
        bottom_line = status.intact and status.valid and status.trusted and level in ALLOWED_AFTER
    else:
        signed_at = status.signer_reported_dt
        token = status.timestamp_validity
        if token is not None and token.intact and token.valid and token.trusted:
            timestamp_at = token.timestamp
        bottom_line = status.bottom_line
    cert = status.signing_cert
    name = emb.sig_object.get("/Name")
    signer_name = str(name) if name else _common_name(cert.subject)
    issuer = _common_name(cert.issuer)
    _, _, start, length = (int(x) for x in emb.byte_range)
    end = start + length
    report = SignatureReport(
        field_name=str(emb.field_name),
        signer_name=signer_name,
        organisation=_organisation(cert.subject),
        issuer=issuer,
        signed_at=signed_at,
        timestamp_at=timestamp_at,
        is_document_timestamp=is_ts,
        intact=status.intact,
        valid=status.valid,
        trusted=status.trusted,
        covers_whole_document=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        modification_level=level,
        bottom_line=bool(bottom_line),
        subfilter=str(emb.sig_object.get("/SubFilter", "")),
        revision_sha256=hashlib.sha256(pdf[:end]).hexdigest(),
        qualified=_qualified(cert),
        certificate_subject=cert.subject.human_friendly,
        certificate_issuer=cert.issuer.human_friendly,
        summary_fr=_summary(
            timestamp=is_ts,
            signer=signer_name,
            when=timestamp_at or signed_at,
            certified_time=timestamp_at is not None,
            intact=status.intact,
            valid=status.valid,
            trusted=status.trusted,
            level=level,
            bottom_line=bool(bottom_line),
            issuer=issuer,
        ),
    )
    return _Checked(report, end, certifies=not is_ts and emb.docmdp_level is not None)


def _check_all(
    pdf: bytes,
    trust_roots: Iterable[asn1_x509.Certificate],
    crls: Iterable[asn1_crl.CertificateList],
) -> list[_Checked]:
    roots, revocation = list(trust_roots), list(crls)
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        embedded = list(reader.embedded_signatures)  # in revision order
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise PadesError(UNREADABLE) from exc
    checked = []
    for emb in embedded:
        try:
            checked.append(_check_one(emb, pdf, roots, revocation))
        except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
            # SignatureValidationError is a ValueError: a malformed or unsupported signature.
            raise PadesError(
                f"La signature « {emb.field_name} » de ce PDF est illisible ou d'un format "
                "non pris en charge."
            ) from exc
    return checked


def validate(
    pdf: bytes,
    trust_roots: Iterable[asn1_x509.Certificate],
    crls: Iterable[asn1_crl.CertificateList] = (),
) -> list[SignatureReport]:
    """Every signature and document time-stamp, in revision order (empty if none), checked
    against `trust_roots` without network access."""
    return [c.report for c in _check_all(pdf, trust_roots, crls)]


# Signatures made outside the portal -------------------------------------------------------------


def check_external(
    sent: bytes,
    uploaded: bytes,
    *,
    trust_roots: Iterable[asn1_x509.Certificate],
    crls: Iterable[asn1_crl.CertificateList] = (),
    expected_previous_signatures: int,
) -> SignatureReport:
    """The report of the one signature added to `sent` in the signer's own tool, or
    ExternalRejected with the reason. Accepted: `sent` byte for byte, then revisions adding one
    intact, valid and trusted approval signature, possibly followed by validation data and
    document time-stamps, with nothing that changes content."""
    if uploaded == sent:
        raise ExternalRejected(
            "Le fichier déposé est identique à la version envoyée : il ne contient pas de "
            "nouvelle signature."
        )
    if not uploaded.startswith(sent):
        raise ExternalRejected(
            "Le fichier déposé ne prolonge pas la version envoyée : il a été réenregistré ou "
            "modifié (un logiciel l'a réécrit au lieu d'y ajouter la signature). Signez le "
            "fichier envoyé tel quel, sans « Enregistrer sous » ni conversion, puis déposez "
            "le fichier signé."
        )
    try:
        checked = _check_all(uploaded, trust_roots, crls)
    except PadesError as exc:
        raise ExternalRejected(exc.message) from exc
    earlier = [c for c in checked if c.end <= len(sent)]
    added = [c for c in checked if c.end > len(sent)]
    if len(earlier) < expected_previous_signatures:
        raise ExternalRejected(
            "Des signatures présentes dans la version envoyée ont disparu du fichier déposé."
        )
    new = [c for c in added if not c.report.is_document_timestamp]
    if not new:
        raise ExternalRejected(
            "Le fichier déposé ne contient pas de nouvelle signature : signez le document dans "
            "votre outil avant de le déposer."
        )
    if len(new) > 1:
        raise ExternalRejected(
            "Le fichier déposé contient plusieurs nouvelles signatures ; une seule est attendue "
            "à cette étape."
        )
    signature = new[0].report
    if not signature.intact:
        raise ExternalRejected(
            "La nouvelle signature est altérée : le fichier a été modifié après avoir été signé."
        )
    if not signature.valid:
        raise ExternalRejected(
            "La nouvelle signature est invalide : la signature électronique ne correspond pas "
            "au document."
        )
    if not signature.trusted:
        raise ExternalRejected(
            f"Le certificat de la nouvelle signature (« {signature.certificate_subject} », émis "
            f"par « {signature.issuer} ») n'est pas émis par une autorité acceptée par le "
            "consortium."
        )
    if new[0].certifies:
        raise ExternalRejected(
            "La nouvelle signature est une signature de certification, qui interdit les "
            "signatures suivantes : signez avec une signature simple (signature d'approbation)."
        )
    changed = (
        "Le document a été modifié au-delà de l'ajout d'une signature (page ajoutée, contenu "
        "changé…) : seule une signature peut être ajoutée à la version envoyée."
    )
    for c in earlier:
        if c.report.modification_level not in ALLOWED_AFTER:
            raise ExternalRejected(changed)
        if not (c.report.intact and c.report.valid and c.report.bottom_line):
            raise ExternalRejected(
                f"La signature de {c.report.signer_name} présente dans la version envoyée n'est "
                "plus valide dans le fichier déposé."
            )
    if signature.modification_level not in ALLOWED_AFTER:
        raise ExternalRejected(changed)
    if not signature.bottom_line:
        raise ExternalRejected(
            "La nouvelle signature n'est pas valide : son horodatage ou ses contraintes ne sont "
            "pas respectés."
        )
    last = checked[-1].report
    if not signature.covers_whole_document:
        # Only validation data and document time-stamps may follow, the last covering all.
        closed_by_timestamp = (
            last.is_document_timestamp
            and last.covers_whole_document
            and signature.modification_level
            in (ModificationLevel.NONE.name, ModificationLevel.LTA_UPDATES.name)
        )
        if not closed_by_timestamp:
            raise ExternalRejected(
                "La nouvelle signature ne couvre pas l'intégralité du fichier déposé : des "
                "ajouts ont été faits après la signature."
            )
    for c in added:
        if c.report.is_document_timestamp and not c.report.bottom_line:
            raise ExternalRejected(
                "Un horodatage ajouté au document n'est pas valide ou provient d'une autorité "
                "non reconnue."
            )
    return signature
