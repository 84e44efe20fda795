"""Signing: a signer's field filled with a visible stamp, the portal's invisible seal, and the
closing document time-stamp."""

from __future__ import annotations

import datetime as dt
import io
import textwrap
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign.fields import SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.general import SigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, PdfTimeStamper
from pyhanko.sign.signers.pdf_signer import (
    DSSContentSettings,
    SigDSSPlacementPreference,
    TimestampDSSContentSettings,
)
from pyhanko.sign.timestamps import TimeStamper, TimestampRequestError
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError

from portal.signing import authority
from portal.signing.pades.errors import UNREADABLE, PadesError, TimestampUnavailable
from portal.signing.pades.marks import Mark, drawn_mark
from portal.signing.seals import Seal

PARIS = ZoneInfo("Europe/Paris")

STAMP_TEXT = "Signé par %(signer)s\n%(org)s\nle %(date)s"
DRAWING_TEXT_SHARE = 0.45  # of the field's height kept under a drawn mark for the text
STAMP_FONT_SIZE = 9  # Courier: each character is 0.6 × this wide
STAMP_MARGIN = 10  # pyHanko's text box margin, in points
STAMP_MIN_COLUMNS = 22  # "le 22/11/2026 à 14:05" stays on one line
SEAL_FIELD = "cachet-portail"

# Either key usage is enough on a signing certificate (pyHanko's default demands
# nonRepudiation, which some advanced and seal certificates lack).
KEY_USAGE = frozenset({"digital_signature", "non_repudiation"})
# The document is signed with the portal's validation data in the signature's own revision
# (no VRI, which would force a separate revision after it).
DSS_WITH_SIGNATURE = DSSContentSettings(
    placement=SigDSSPlacementPreference.TOGETHER_WITH_SIGNATURE, include_vri=False
)


def french_datetime(at: dt.datetime) -> str:
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
        "date": french_datetime(signed_at),
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
