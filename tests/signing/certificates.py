"""Test certificates and independent checkers shared by the signing tests: a State service's
own signing certificate (PKCS#12 from its own authority), poppler's `pdfsig` trusting a root
through an NSS database, and the edits a careless tool makes to a signed file."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from asn1crypto import x509 as asn1_x509  # type: ignore[import-untyped]
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.sign.ades.qualified_asn1 import QcStatements
from pyhanko.sign.signers import SimpleSigner
from pypdf import PdfWriter

from portal.signing import authority
from portal.signing.seals import Seal


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Préfecture du Rhône – DDETS"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def certificate(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: x509.Name | None = None,
    issuer_key: rsa.RSAPrivateKey | None = None,
    *,
    ca: bool = False,
    qualified: bool = False,
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer or _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if qualified:  # QCStatements with QcCompliance, as on an eIDAS qualified certificate
        statements = QcStatements([{"statement_id": "qc_compliance"}]).dump()
        builder = builder.add_extension(
            x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.5.5.7.1.3"), statements),
            critical=False,
        )
    return builder.sign(issuer_key or key, hashes.SHA256())


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class External:
    seal: Seal  # the counter-signer's own certificate, from its PKCS#12
    root_pem: Path  # its authority, accepted by the consortium


def external_signer(folder: Path) -> External:
    """A State agent's qualified certificate from the State's own (test) authority."""
    root_key, key = new_key(), new_key()
    root = certificate("Autorité de l'État (test)", root_key, ca=True)
    cert = certificate("Agent DDETS", key, root.subject, root_key, qualified=True)
    p12 = folder / "agent.p12"
    p12.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"agent", key, cert, [root], serialization.BestAvailableEncryption(b"secret")
        )
    )
    root_pem = folder / "autorite-etat.pem"
    root_pem.write_bytes(root.public_bytes(serialization.Encoding.PEM))
    return External(authority.load_pkcs12(p12, b"secret", []), root_pem)


def stranger() -> Seal:
    """A self-signed certificate no consortium accepts."""
    key = new_key()
    cert = certificate("Signataire inconnu", key)
    p12 = pkcs12.serialize_key_and_certificates(b"x", key, cert, None, serialization.NoEncryption())
    signer = SimpleSigner.load_pkcs12_data(p12, other_certs=[])
    assert signer.signing_cert is not None
    return Seal(signer, signer.signing_cert, (), (), "Inconnu", False)


def add_page(pdf: bytes, *, incremental: bool) -> bytes:
    writer = (
        PdfWriter(io.BytesIO(pdf), incremental=True)
        if incremental
        else PdfWriter(clone_from=io.BytesIO(pdf))
    )
    writer.add_blank_page()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def resave(pdf: bytes) -> bytes:
    """What "Enregistrer sous" in an ordinary PDF tool does: the whole file rewritten."""
    out = io.BytesIO()
    PdfWriter(clone_from=io.BytesIO(pdf)).write(out)
    return out.getvalue()


# poppler / NSS -----------------------------------------------------------------------------------


def pem(cert: asn1_x509.Certificate) -> bytes:
    return x509.load_der_x509_certificate(cert.dump()).public_bytes(serialization.Encoding.PEM)


def nss_database(folder: Path, root: asn1_x509.Certificate) -> str:
    """An NSS database trusting `root`, as `pdfsig -nssdir` needs."""
    path = folder / "root.pem"
    path.write_bytes(pem(root))
    subprocess.run(["certutil", "-N", "--empty-password", "-d", f"sql:{folder}"], check=True)
    subprocess.run(
        ["certutil", "-A", "-n", "root", "-t", "C,C,C", "-i", str(path), "-d", f"sql:{folder}"],
        check=True,
    )
    return f"sql:{folder}"


def pdfsig(pdf: bytes, nss: str, tmp_path: Path) -> list[dict[str, str]]:
    """pdfsig's verdict per signature, as {"Signature Validation": …, …}."""
    path = tmp_path / f"{hashlib.sha256(pdf).hexdigest()[:12]}.pdf"
    path.write_bytes(pdf)
    result = subprocess.run(
        ["pdfsig", "-nssdir", nss, str(path)], capture_output=True, text=True, check=False
    )
    found: list[dict[str, str]] = []
    for line in result.stdout.splitlines():
        if re.match(r"Signature #\d+:", line):
            found.append({})
        elif found and (m := re.match(r"\s+- ([^:]+): (.*)", line)):
            found[-1][m.group(1)] = m.group(2)
    return found
