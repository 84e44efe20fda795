"""Validation: every signature and document time-stamp of a PDF checked against the trust
roots without network access, and the acceptance rules for a file signed outside the portal."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from asn1crypto import crl as asn1_crl  # type: ignore[import-untyped]
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.qualified_asn1 import get_qc_statements
from pyhanko.sign.diff_analysis import ModificationLevel
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

from portal.signing import authority
from portal.signing.pades.errors import UNREADABLE, ExternalRejected, PadesError
from portal.signing.pades.signing import KEY_USAGE, french_datetime

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
    return f"{what} valide{whose}, {verb} le {french_datetime(when)} ({how})."


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
