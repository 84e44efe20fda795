"""The cryptographic layer on its own: test authority, signature fields in the frozen PDF's
blocks, sequential PAdES signatures (with and without a real HTTP time-stamping server),
closing document time-stamp, tampering, and signatures made outside the portal.

Checked twice: by pyHanko and by poppler's `pdfsig` (NSS), an independent implementation."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import shutil
import socket
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import pytest
import weasyprint
from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from PIL import Image, ImageDraw
from pyhanko.sign.timestamps import HTTPTimeStamper
from pypdf import PdfReader

from portal.signing import authority
from portal.signing.pades.errors import ExternalRejected, PadesError, TimestampUnavailable
from portal.signing.pades.fields import MM, FieldSpec, add_signature_fields, signature_blocks
from portal.signing.pades.marks import Mark, drawn_mark
from portal.signing.pades.signing import SEAL_FIELD, seal_document, sign_field, timestamp_document
from portal.signing.pades.validation import SignatureReport, check_external, validate
from portal.signing.seals import Seal, SealError
from tests.signing.certificates import (
    External,
    add_page,
    certificate,
    external_signer,
    new_key,
    nss_database,
    pdfsig,
    resave,
    stranger,
)
from tests.signing.tsa import TsaServer

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "conventions" / "pdf.html"
PARTIES = 3
FIELDS = ("signature-a", "signature-b", "signature-c")
SIGNERS = ("Élodie Dupont", "Jean « Jo » Martin", "Zoé Œuvre")
AT = dt.datetime(2026, 11, 22, 13, 5, tzinfo=dt.UTC)  # 14:05 in Paris
PDFSIG = shutil.which("pdfsig")
CERTUTIL = shutil.which("certutil")
needs_poppler = pytest.mark.skipif(
    PDFSIG is None or CERTUTIL is None, reason="poppler-utils and libnss3-tools needed"
)


# A frozen-like convention ------------------------------------------------------------------------


def _frozen_pdf() -> bytes:
    """About thirty pages of articles then the signature blocks, with the real template's
    CSS (page margins, block size), as WeasyPrint renders the frozen convention."""
    source = TEMPLATE.read_text(encoding="utf-8")
    css = source.split("<style>", 1)[1].split("</style>", 1)[0]
    css = jinja2.Template(css).render(
        convention={"reference": "CONV-2026-001"}, version_label="version 1", frozen=True
    )
    paragraph = (
        "<p>Le bailleur met à disposition de l'association des logements destinés à "
        "l'accompagnement vers et dans le logement, dans les conditions prévues ci-après. "
        "Les parties se réunissent chaque trimestre pour examiner les situations suivies.</p>"
    )
    articles = "".join(
        f'<div class="article"><h2>Article {n} – Engagements</h2>{paragraph * 22}</div>'
        for n in range(1, 31)
    )
    blocks = "".join(
        f'<div class="signature" id="signature-{n}"><p class="who">Organisation {n}</p>'
        f'<p>Partie signataire<br>Représentant {n}</p><p class="place">Fait le ……</p></div>'
        for n in range(1, PARTIES + 1)
    )
    html = (
        f'<!doctype html><html lang="fr"><head><meta charset="utf-8"><style>{css}</style>'
        f'</head><body><section class="articles">{articles}</section>'
        f'<section class="signatures"><h2>Signatures</h2>{blocks}</section></body></html>'
    )
    return bytes(weasyprint.HTML(string=html).write_pdf())


@pytest.fixture(scope="module")
def frozen() -> bytes:
    return _frozen_pdf()


@pytest.fixture(scope="module")
def authority_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("autorite") / "cles"


@pytest.fixture(scope="module")
def seal(authority_dir: Path) -> Seal:
    return authority.ensure_test_authority(authority_dir)


@pytest.fixture(scope="module")
def prepared(frozen: bytes) -> bytes:
    """Organisation 1 has one signer, organisation 2 two (side by side)."""
    return add_signature_fields(
        frozen,
        [
            FieldSpec(FIELDS[0], 1, 0, 1),
            FieldSpec(FIELDS[1], 2, 0, 2),
            FieldSpec(FIELDS[2], 2, 1, 2),
        ],
    )


def sign(pdf: bytes, field: str, seal: Seal, name: str = "Signataire", **options: object) -> bytes:
    arguments: dict[str, object] = {
        "field_name": field,
        "seal": seal,
        "signer_name": name,
        "organisation": "Association Habitat & Humanisme – Rhône",
        "reason": "Signature de la convention CONV-2026-001",
        "location": "Portail partenariats Hlm",
        "signed_at": AT,
        "timestamper": None,
        "validation_context": None,
    }
    return sign_field(pdf, **(arguments | options))  # type: ignore[arg-type]


def assert_sound(report: SignatureReport) -> None:
    assert report.intact and report.valid and report.trusted, report.summary_fr
    assert report.modification_level in {"NONE", "FORM_FILLING", "LTA_UPDATES"}
    assert report.bottom_line, report.summary_fr


@dataclass
class Signed:
    revisions: list[bytes]  # after each signature

    @property
    def final(self) -> bytes:
        return self.revisions[-1]


@pytest.fixture(scope="module")
def signed_three(prepared: bytes, seal: Seal) -> Signed:
    revisions, pdf = [], prepared
    for field, name in zip(FIELDS, SIGNERS, strict=True):
        pdf = sign(pdf, field, seal, name)
        revisions.append(pdf)
    return Signed(revisions)


# poppler / NSS -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nss_db(tmp_path_factory: pytest.TempPathFactory, seal: Seal) -> str:
    return nss_database(tmp_path_factory.mktemp("nss"), seal.trust_roots[0])


# Authority ---------------------------------------------------------------------------------------


def test_test_authority_is_created_once_with_private_files(seal: Seal, authority_dir: Path) -> None:
    assert seal.is_test and seal.label == "Autorité de test du portail (non qualifiée)"
    assert seal.certificate.subject.native["common_name"] == "Cachet de test du portail"
    root = seal.trust_roots[0]
    assert root.subject.native["common_name"] == (
        "Autorité de test – Portail partenariats Hlm (NON QUALIFIÉE)"
    )
    assert seal.certificate.key_usage_value.native == {"digital_signature", "non_repudiation"}
    assert len(seal.crls) == 1
    assert stat.S_IMODE(authority_dir.stat().st_mode) == 0o700
    keys = sorted(authority_dir.glob("*cle.pem"))
    assert len(keys) == 3
    assert all(stat.S_IMODE(k.stat().st_mode) == 0o600 for k in keys)
    assert b"BEGIN PRIVATE KEY" in keys[0].read_bytes()  # PKCS#8
    again = authority.ensure_test_authority(authority_dir)
    assert again.certificate.dump() == seal.certificate.dump()
    stamper = authority.test_timestamper(authority_dir)
    assert stamper.tsa_cert.extended_key_usage_value.native == ["time_stamping"]


def test_two_workers_starting_together_share_one_authority(tmp_path: Path) -> None:
    folder = tmp_path / "cles"
    seals: list[Seal] = []
    threads = [
        threading.Thread(target=lambda: seals.append(authority.ensure_test_authority(folder)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(seals) == 2
    assert seals[0].certificate.dump() == seals[1].certificate.dump()


def test_an_expired_crl_is_renewed(authority_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "copie"
    shutil.copytree(authority_dir, folder)
    root = x509.load_pem_x509_certificate((folder / "racine.pem").read_bytes())
    key = serialization.load_pem_private_key((folder / "racine-cle.pem").read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    expired = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root.subject)
        .last_update(past - dt.timedelta(days=365))
        .next_update(past)
        .sign(key, hashes.SHA256())
    )
    (folder / "racine.crl").write_bytes(expired.public_bytes(serialization.Encoding.PEM))
    renewed = authority.ensure_test_authority(folder).crls[0]
    assert renewed["tbs_cert_list"]["next_update"].native > dt.datetime.now(dt.UTC)


# Fields ------------------------------------------------------------------------------------------


def test_signature_blocks_are_found_through_named_destinations(frozen: bytes) -> None:
    blocks = signature_blocks(frozen)
    assert sorted(blocks) == [1, 2, 3]
    last_page = len(PdfReader(io.BytesIO(frozen)).pages) - 1
    assert last_page >= 25
    assert {page for page, _ in blocks.values()} == {last_page}
    tops = [blocks[n][1][1] for n in (1, 2, 3)]
    assert tops == sorted(tops, reverse=True)  # top to bottom
    assert all(abs(blocks[n][1][0] - 22 * MM) < 10 for n in (1, 2, 3))  # page margin


def test_fields_are_added_in_one_revision_inside_the_blocks(frozen: bytes, prepared: bytes) -> None:
    assert prepared.startswith(frozen)
    assert prepared[len(frozen) :].count(b"%%EOF") == 1
    blocks = signature_blocks(frozen)
    reader = PdfReader(io.BytesIO(prepared))
    widgets = {}
    for page in reader.pages:
        for annotation in page.get("/Annots") or []:
            annotation = annotation.get_object()
            widgets[annotation["/T"]] = [float(v) for v in annotation["/Rect"]]
    assert sorted(widgets) == sorted(FIELDS)
    for field, party in zip(FIELDS, (1, 2, 2), strict=True):
        x1, y1, x2, y2 = widgets[field]
        left, top = blocks[party][1]
        assert left + 74 * MM <= x1 < x2 <= left + 168 * MM
        assert top - 48 * MM < y1 < y2 < top - 5 * MM
    # The two signers of organisation 2 side by side, equal widths.
    a, b = widgets[FIELDS[1]], widgets[FIELDS[2]]
    assert a[2] < b[0] and abs((a[2] - a[0]) - (b[2] - b[0])) <= 1


def test_a_missing_block_is_refused(frozen: bytes) -> None:
    with pytest.raises(PadesError, match="pas d'emplacement de signature pour la partie"):
        add_signature_fields(frozen, [FieldSpec("signature-x", 4, 0, 1)])


# Signatures --------------------------------------------------------------------------------------


def test_three_sequential_signatures_validate_after_each_step(
    prepared: bytes, signed_three: Signed, seal: Seal
) -> None:
    previous = prepared
    for step, pdf in enumerate(signed_three.revisions, 1):
        assert pdf.startswith(previous)  # incremental, never rewritten
        reports = validate(pdf, seal.trust_roots, seal.crls)
        assert [r.field_name for r in reports] == list(FIELDS[:step])
        for report in reports:
            assert_sound(report)
            assert report.subfilter == "/ETSI.CAdES.detached"
            assert not report.is_document_timestamp and report.timestamp_at is None
        assert reports[-1].covers_whole_document and reports[-1].modification_level == "NONE"
        # Each signature's revision is exactly the file produced at its step.
        assert [r.revision_sha256 for r in reports] == [
            hashlib.sha256(r).hexdigest() for r in signed_three.revisions[:step]
        ]
        previous = pdf
    final = validate(signed_three.final, seal.trust_roots, seal.crls)
    assert len(final) == 3
    assert [r.signer_name for r in final] == list(SIGNERS)
    first = final[0]
    assert first.signed_at is not None
    assert first.organisation == "Portail partenariats Hlm – test"
    assert first.issuer == "Autorité de test – Portail partenariats Hlm (NON QUALIFIÉE)"
    assert not first.qualified  # the test seal is not a qualified certificate
    assert first.summary_fr.startswith("Signature valide de Élodie Dupont, apposée le ")


@pytest.mark.parametrize("source", ["test authority", "PKCS#12"])
def test_the_seal_key_is_read_once_not_at_every_signature(
    prepared: bytes, seal: Seal, external: External, source: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pyHanko's own signer parsed and checked the RSA key at each signature (120-170 ms of
    CPU): the seal's signer keeps it loaded, and its signatures validate as before."""
    from cryptography.hazmat.primitives import serialization

    used = seal if source == "test authority" else external.seal
    loads: list[int] = []
    original = serialization.load_der_private_key

    def counted(*args: Any, **kwargs: Any) -> Any:
        loads.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(serialization, "load_der_private_key", counted)
    pdf = sign(sign(prepared, FIELDS[0], used), FIELDS[1], used)
    assert loads == []
    reports = validate(pdf, used.trust_roots, used.crls)
    assert len(reports) == 2
    for report in reports:
        assert_sound(report)


def test_the_stamp_is_drawn_in_the_field(signed_three: Signed) -> None:
    text = _appearance_text(signed_three.final, FIELDS[0])
    assert "Signé par Élodie Dupont" in text
    assert "le 22/11/2026 à 14:05" in text  # Paris time


def _drawing(width: int = 480, height: int = 160, strokes: bool = True) -> bytes:
    """A PNG as the ceremony's signing pad exports it: strokes on a transparent canvas."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    if strokes:
        ImageDraw.Draw(image).line([(40, 120), (120, 30), (200, 130), (420, 40)], "#1f2933", 3)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_the_chosen_mark_is_in_the_stamp(prepared: bytes, seal: Seal) -> None:
    typed = sign(prepared, FIELDS[0], seal, "Élodie Dupont", mark=Mark(text="É. Dupont"))
    assert _appearance_text(typed, FIELDS[0]).startswith("« É. Dupont »\nSigné par Élodie Dupont")
    same = sign(prepared, FIELDS[0], seal, "Élodie Dupont", mark=Mark(text="Élodie Dupont"))
    assert _appearance_text(same, FIELDS[0]).startswith("Signé par Élodie Dupont")
    drawn = sign(prepared, FIELDS[0], seal, "Élodie Dupont", mark=Mark(png=_drawing()))
    assert "Signé par Élodie Dupont" in _appearance_text(drawn, FIELDS[0])
    assert _appearance_images(drawn, FIELDS[0]) == 1
    for pdf in (typed, drawn):
        [report] = validate(pdf, seal.trust_roots, seal.crls)
        assert_sound(report)


def test_an_unusable_drawing_is_refused_before_signing() -> None:
    assert drawn_mark(_drawing()).size[0] < 480  # cropped to the strokes
    with pytest.raises(PadesError, match="cadre de signature est vide"):
        drawn_mark(_drawing(strokes=False))
    with pytest.raises(PadesError, match="illisible"):
        drawn_mark(_drawing(width=4000, height=1000))
    with pytest.raises(PadesError, match="illisible"):
        drawn_mark(b"\x89PNG\r\n\x1a\n truncated")


def _pdf_string(literal: bytes) -> str:
    """A PDF literal string's bytes (octal and backslash escapes), read as WinAnsi."""
    unescaped = re.sub(
        rb"\\([0-7]{1,3}|.)",
        lambda m: bytes([int(m.group(1), 8)]) if m.group(1).isdigit() else m.group(1),
        literal,
    )
    return unescaped.decode("cp1252")


def _appearance(pdf: bytes, field: str) -> list[Any]:
    """The field's appearance stream and every XObject it draws, recursively."""
    reader = PdfReader(io.BytesIO(pdf))
    annotations: list[Any] = list(reader.pages[-1]["/Annots"])  # type: ignore[call-overload]
    for annotation in (a.get_object() for a in annotations):
        if annotation["/T"] == field:
            found, pending = [], [annotation["/AP"]["/N"].get_object()]
            while pending:
                xobject = pending.pop()
                found.append(xobject)
                if xobject.get("/Subtype") == "/Form":
                    resources = xobject.get("/Resources", {}).get("/XObject", {})
                    pending += [x.get_object() for x in resources.values()]
            return found
    raise AssertionError(field)


def _appearance_text(pdf: bytes, field: str) -> str:
    raw = b"".join(x.get_data() for x in _appearance(pdf, field) if x["/Subtype"] == "/Form")
    return "\n".join(_pdf_string(m) for m in re.findall(rb"\((.*?)\) Tj", raw))


def _appearance_images(pdf: bytes, field: str) -> int:
    return sum(1 for x in _appearance(pdf, field) if x["/Subtype"] == "/Image")


@needs_poppler
def test_pdfsig_accepts_every_signature(signed_three: Signed, nss_db: str, tmp_path: Path) -> None:
    verdicts = pdfsig(signed_three.final, nss_db, tmp_path)
    assert len(verdicts) == 3
    for verdict in verdicts:
        assert verdict["Signature Validation"] == "Signature is Valid."
        assert verdict["Signature Type"] == "ETSI.CAdES.detached"
    # pdfsig 22.12 trusts the first signature made with a given certificate; for later ones
    # made with the same certificate in the same run, NSS reports a generic error (it does the
    # same on files signed twice by pdfsig itself). The certificate is the same, so checking
    # the first occurrence checks them all.
    assert verdicts[0]["Certificate Validation"] == "Certificate is Trusted."
    for verdict in verdicts[1:]:
        assert verdict["Certificate Validation"] in {
            "Certificate is Trusted.",
            "Unknown issue with Certificate or corrupted data.",
        }


@dataclass
class Timestamped:
    steps: list[list[SignatureReport]]  # validation after each signature
    signed: bytes  # three B-LT signatures
    closed: bytes  # then the document time-stamp (B-LTA)
    requests: int  # answered by the TSA server


@pytest.fixture(scope="module")
def timestamped(prepared: bytes, seal: Seal, authority_dir: Path) -> Timestamped:
    """Each signature time-stamped over HTTP by the test TSA server, then the closing
    document time-stamp, as the portal does when an authority is configured."""
    steps, pdf = [], prepared
    with TsaServer(authority_dir) as tsa:
        stamper = HTTPTimeStamper(tsa.url)
        for field, name in zip(FIELDS, SIGNERS, strict=True):
            context = authority.validation_context(seal.trust_roots, seal.crls)
            pdf = sign(pdf, field, seal, name, timestamper=stamper, validation_context=context)
            steps.append(validate(pdf, seal.trust_roots, seal.crls))
        closed = timestamp_document(
            pdf,
            timestamper=stamper,
            validation_context=authority.validation_context(
                seal.trust_roots, seal.crls, for_timestamps=True
            ),
        )
        return Timestamped(steps, pdf, closed, tsa.requests)


def test_timestamped_signatures_then_closing_document_timestamp(
    timestamped: Timestamped, seal: Seal
) -> None:
    for reports in timestamped.steps:
        for report in reports:
            assert_sound(report)
            assert report.timestamp_at is not None  # B-T
        assert reports[-1].covers_whole_document  # validation data in the same revision
    assert b"/DSS" in timestamped.signed  # B-LT: certificates and CRL embedded
    assert timestamped.requests >= 4
    assert timestamped.closed.startswith(timestamped.signed)
    reports = validate(timestamped.closed, seal.trust_roots, seal.crls)
    assert len(reports) == 4
    for report in reports[:3]:
        assert_sound(report)
        assert report.modification_level in {"FORM_FILLING", "LTA_UPDATES"}
    last = reports[-1]
    assert last.is_document_timestamp and last.intact and last.valid and last.trusted
    assert last.bottom_line and last.covers_whole_document
    assert last.subfilter == "/ETSI.RFC3161"
    assert last.timestamp_at is not None
    assert last.summary_fr.startswith("Horodatage du document valide")
    assert reports[0].summary_fr.endswith("(heure certifiée par horodatage).")


@needs_poppler
def test_pdfsig_on_the_timestamped_file(
    timestamped: Timestamped, nss_db: str, tmp_path: Path
) -> None:
    verdicts = pdfsig(timestamped.closed, nss_db, tmp_path)
    assert len(verdicts) == 4
    for verdict in verdicts[:3]:
        assert verdict["Signature Validation"] == "Signature is Valid."
    assert verdicts[0]["Certificate Validation"] == "Certificate is Trusted."
    # pdfsig 22.12 does not check document time-stamps (ETSI.RFC3161): pyHanko does.
    assert verdicts[3]["Signature Validation"] == "Signature has not yet been verified."


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_authority_produces_nothing(prepared: bytes, seal: Seal) -> None:
    stamper = HTTPTimeStamper(f"http://127.0.0.1:{_closed_port()}/tsa", timeout=2)
    produced: list[bytes] = []
    with pytest.raises(TimestampUnavailable) as caught:
        produced.append(sign(prepared, FIELDS[0], seal, timestamper=stamper))
    assert produced == []
    assert caught.value.message.startswith("L'autorité d'horodatage n'a pas délivré de jeton")
    with pytest.raises(TimestampUnavailable):
        timestamp_document(
            prepared,
            timestamper=stamper,
            validation_context=authority.validation_context(seal.trust_roots, seal.crls),
        )


def test_signing_twice_or_a_missing_field_is_refused(signed_three: Signed, seal: Seal) -> None:
    with pytest.raises(PadesError, match="déjà signé"):
        sign(signed_three.final, FIELDS[0], seal)
    with pytest.raises(PadesError, match="absent du document"):
        sign(signed_three.final, "signature-inconnue", seal)


def test_the_signature_certificate_pdf_is_sealed(seal: Seal, authority_dir: Path) -> None:
    document = bytes(weasyprint.HTML(string="<p>Certificat de signature</p>").write_pdf())
    with TsaServer(authority_dir) as tsa:
        sealed = seal_document(
            document,
            seal=seal,
            reason="Certificat de signature – dossier de preuve",
            timestamper=HTTPTimeStamper(tsa.url),
        )
    assert sealed.startswith(document)
    [report] = validate(sealed, seal.trust_roots, seal.crls)
    assert report.field_name == SEAL_FIELD
    assert_sound(report)
    assert report.covers_whole_document and report.timestamp_at is not None
    assert report.signer_name == "Cachet de test du portail"


# Tampering ---------------------------------------------------------------------------------------


def _flip_in_content(pdf: bytes, before: int) -> bytes:
    """One bit flipped inside a stream of the original document (signed by everyone)."""
    starts = [m.end() for m in re.finditer(rb"stream\r?\n", pdf[:before])]
    offset = starts[len(starts) // 2] + 16
    changed = bytearray(pdf)
    changed[offset] ^= 0x01
    return bytes(changed)


def test_one_flipped_byte_breaks_every_signature(
    frozen: bytes, signed_three: Signed, seal: Seal
) -> None:
    tampered = _flip_in_content(signed_three.final, len(frozen))
    reports = validate(tampered, seal.trust_roots, seal.crls)
    assert len(reports) == 3
    for report in reports:
        assert not report.intact and not report.bottom_line
        assert report.summary_fr.endswith("invalide : le document a été modifié après coup.")


@needs_poppler
def test_pdfsig_sees_the_flipped_byte(
    frozen: bytes, signed_three: Signed, nss_db: str, tmp_path: Path
) -> None:
    tampered = _flip_in_content(signed_three.final, len(frozen))
    verdicts = pdfsig(tampered, nss_db, tmp_path)
    assert [v["Signature Validation"] for v in verdicts] == ["Digest Mismatch."] * 3


def test_a_seal_outside_the_trusted_authorities_cannot_sign(
    prepared: bytes, seal: Seal, authority_dir: Path, external: External
) -> None:
    """B-LT embeds validation data, so the seal must chain to a trusted root first."""
    with pytest.raises(PadesError) as caught:
        sign(
            prepared,
            FIELDS[0],
            seal,
            timestamper=authority.test_timestamper(authority_dir),
            validation_context=authority.validation_context(external.seal.trust_roots),
        )
    assert caught.value.message.startswith("Le certificat de cachet n'est pas validé")


def test_an_appended_page_fails_the_verdict(signed_three: Signed, seal: Seal) -> None:
    appended = add_page(signed_three.final, incremental=True)
    assert appended.startswith(signed_three.final)
    reports = validate(appended, seal.trust_roots, seal.crls)
    assert len(reports) == 3
    for report in reports:
        assert report.intact and report.valid  # the signed bytes are still there…
        assert report.modification_level == "OTHER"  # …but what follows is not allowed
        assert not report.bottom_line and not report.covers_whole_document
    rewritten = add_page(signed_three.final, incremental=False)
    assert all(not r.bottom_line for r in validate(rewritten, seal.trust_roots, seal.crls))


def test_unreadable_and_unsigned_files(frozen: bytes, seal: Seal) -> None:
    with pytest.raises(PadesError) as caught:
        validate(b"%PDF-1.7\nceci n'est pas un PDF", seal.trust_roots)
    assert caught.value.message == "Ce fichier n'est pas un PDF lisible."
    assert validate(frozen, seal.trust_roots) == []


# Signatures made outside the portal ----------------------------------------------------------


@pytest.fixture(scope="module")
def external(tmp_path_factory: pytest.TempPathFactory) -> External:
    return external_signer(tmp_path_factory.mktemp("externe"))


@pytest.fixture(scope="module")
def sent(frozen: bytes, seal: Seal) -> bytes:
    """The revision sent to the State service: the portal's signature on party 1, an empty
    field for party 2."""
    fields = [
        FieldSpec("signature-portail", 1, 0, 1),
        FieldSpec("signature-etat", 2, 0, 1),
    ]
    return sign(add_signature_fields(frozen, fields), "signature-portail", seal)


def _consortium_roots(seal: Seal, external: External) -> tuple[asn1_x509.Certificate, ...]:
    return seal.trust_roots + authority.load_trust_roots([external.root_pem])


def test_a_pkcs12_seal_is_loaded_with_its_root(external: External, tmp_path: Path) -> None:
    assert not external.seal.is_test
    assert external.seal.label == "Agent DDETS"
    assert [r.subject.native["common_name"] for r in external.seal.trust_roots] == [
        "Autorité de l'État (test)"
    ]


def test_a_wrong_pkcs12_passphrase_or_file_is_explained(tmp_path: Path, external: External) -> None:
    p12 = tmp_path / "cachet.p12"
    key = new_key()
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"c",
            key,
            certificate("Cachet", key),
            None,
            serialization.BestAvailableEncryption(b"a"),
        )
    )
    with pytest.raises(SealError) as caught:
        authority.load_pkcs12(p12, b"mauvais", [])
    assert "mot de passe incorrect ou fichier PKCS#12 invalide" in caught.value.message
    with pytest.raises(SealError) as caught:
        authority.load_pkcs12(tmp_path / "absent.p12", None, [])
    assert "introuvable ou illisible" in caught.value.message


def test_an_external_counter_signature_is_accepted(
    sent: bytes, seal: Seal, external: External
) -> None:
    uploaded = sign(sent, "signature-etat", external.seal, "Agent DDETS")
    report = check_external(
        sent,
        uploaded,
        trust_roots=_consortium_roots(seal, external),
        crls=seal.crls,
        expected_previous_signatures=1,
    )
    assert report.field_name == "signature-etat" and report.signer_name == "Agent DDETS"
    assert report.trusted and report.covers_whole_document and report.bottom_line
    assert report.qualified  # its certificate declares QcCompliance
    assert report.certificate_issuer.startswith("Common Name: Autorité de l'État (test)")


def test_an_external_file_saved_again_is_refused(
    sent: bytes, seal: Seal, external: External
) -> None:
    uploaded = sign(sent, "signature-etat", external.seal, "Agent DDETS")
    with pytest.raises(ExternalRejected) as caught:
        check_external(
            sent,
            resave(uploaded),
            trust_roots=_consortium_roots(seal, external),
            expected_previous_signatures=1,
        )
    assert caught.value.message.startswith(
        "Le fichier déposé ne prolonge pas la version envoyée : il a été réenregistré ou modifié"
    )


def test_an_untrusted_certificate_is_refused(sent: bytes, seal: Seal, external: External) -> None:
    uploaded = sign(sent, "signature-etat", stranger(), "Signataire inconnu")
    with pytest.raises(ExternalRejected) as caught:
        check_external(
            sent,
            uploaded,
            trust_roots=_consortium_roots(seal, external),
            expected_previous_signatures=1,
        )
    assert "n'est pas émis par une autorité acceptée par le consortium" in caught.value.message
    assert "Signataire inconnu" in caught.value.message


def test_a_page_added_after_signing_is_refused(sent: bytes, seal: Seal, external: External) -> None:
    signed = sign(sent, "signature-etat", external.seal, "Agent DDETS")
    uploaded = add_page(signed, incremental=True)
    with pytest.raises(ExternalRejected) as caught:
        check_external(
            sent,
            uploaded,
            trust_roots=_consortium_roots(seal, external),
            expected_previous_signatures=1,
        )
    assert "Le document a été modifié au-delà de l'ajout d'une signature" in caught.value.message


def test_an_upload_without_a_new_signature_is_refused(sent: bytes, seal: Seal) -> None:
    for uploaded, reason in (
        (sent, "identique à la version envoyée"),
        (add_page(sent, incremental=True), "ne contient pas de nouvelle signature"),
    ):
        with pytest.raises(ExternalRejected) as caught:
            check_external(
                sent, uploaded, trust_roots=seal.trust_roots, expected_previous_signatures=1
            )
        assert reason in caught.value.message
