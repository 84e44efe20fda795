"""Signing keys and trust: the seal the portal signs with, the authorities it accepts.

Two sources: a PKCS#12 file (the consortium's or the platform's certificate), or, outside
production, a *test* authority the portal creates on first use (root, seal, time-stamping
certificate, CRL). The test authority is not qualified and is labelled as such everywhere.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from asn1crypto import crl as asn1_crl  # type: ignore[import-untyped]
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.keys import load_certs_from_pemder, load_private_key_from_pemder_data
from pyhanko.sign.signers import SimpleSigner
from pyhanko.sign.timestamps import DummyTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from portal.core import clock
from portal.signing.seals import Seal, SealError

TEST_LABEL = "Autorité de test du portail (non qualifiée)"
ROOT_CN = "Autorité de test – Portail partenariats Hlm (NON QUALIFIÉE)"
ORGANISATION = "Portail partenariats Hlm – test"
SEAL_CN = "Cachet de test du portail"
TSA_CN = "Horodatage de test du portail"

# Files of the test authority, all in the folder given to ensure_test_authority.
_ROOT, _ROOT_KEY = "racine.pem", "racine-cle.pem"
_SEAL, _SEAL_KEY = "cachet.pem", "cachet-cle.pem"
_TSA, _TSA_KEY = "horodatage.pem", "horodatage-cle.pem"
_CRL = "racine.crl"
_KEYS = (_ROOT_KEY, _SEAL_KEY, _TSA_KEY)
_FILES = (_ROOT, _ROOT_KEY, _TSA, _TSA_KEY, _CRL, _SEAL_KEY, _SEAL)  # _SEAL written last

_CRL_VALIDITY = dt.timedelta(days=365)
_CRL_RENEW_BEFORE = dt.timedelta(days=1)


# Trust ------------------------------------------------------------------------------------------


def load_trust_roots(paths: Iterable[Path]) -> tuple[asn1_x509.Certificate, ...]:
    """Certificates from PEM (several per file allowed) or DER files."""
    paths = list(paths)
    try:
        return tuple(load_certs_from_pemder([str(p) for p in paths]))  # type: ignore[no-untyped-call]
    except OSError as exc:
        raise SealError(
            f"Le fichier d'autorités de confiance « {exc.filename} » est illisible."
        ) from exc
    except ValueError as exc:
        raise SealError(
            "Un fichier d'autorités de confiance ne contient pas de certificat lisible "
            f"(PEM ou DER) : {', '.join(p.name for p in paths)}."
        ) from exc


def validation_context(
    trust_roots: Iterable[asn1_x509.Certificate],
    crls: Iterable[asn1_crl.CertificateList] = (),
    *,
    for_timestamps: bool = False,
) -> ValidationContext:
    """No network: the revocation data is what we were given (soft-fail when none).

    For time-stamp tokens a CRL issued after the token still vouches for it (the test CRL is
    renewed yearly), hence `retroactive_revinfo`."""
    return ValidationContext(
        trust_roots=list(trust_roots),
        crls=list(crls),
        allow_fetching=False,
        revocation_mode="soft-fail",
        retroactive_revinfo=for_timestamps,
    )


def _self_signed(cert: asn1_x509.Certificate) -> bool:
    return cert.self_signed in ("yes", "maybe")


def _common_name(cert: asn1_x509.Certificate) -> str:
    name = cert.subject.native.get("common_name")
    if isinstance(name, list):  # several CN attributes
        name = name[0]
    return str(name) if name else cert.subject.human_friendly


# The signer ---------------------------------------------------------------------------------------


class KeptKeySigner(SimpleSigner):
    """pyHanko's SimpleSigner parses and checks its private key again at every signature: with
    the RSA 3072 keys here, 120 to 170 ms of CPU each time, for the same key. This one loads it
    once, with the seal; other keys and mechanisms (RSA-PSS, EC) keep pyHanko's own path."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._loaded = serialization.load_der_private_key(self.signing_key.dump(), password=None)

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        key = self._loaded
        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        if isinstance(key, rsa.RSAPrivateKey) and mechanism.signature_algo == "rsassa_pkcs1v15":
            return key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        return super().sign_raw(data, digest_algorithm)


# PKCS#12 ----------------------------------------------------------------------------------------


def load_pkcs12(path: Path, passphrase: bytes | None, extra_trust_roots: Sequence[Path]) -> Seal:
    """A real seal: the PKCS#12's key and chain; trusted roots are the chain's self-signed
    root plus the given files (e.g. the authorities a consortium accepts)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SealError(
            f"Le certificat de cachet « {path} » est introuvable ou illisible."
        ) from exc
    extra = load_trust_roots(extra_trust_roots)
    try:
        read = SimpleSigner.load_pkcs12_data(data, other_certs=extra, passphrase=passphrase)
    except ValueError as exc:
        raise SealError(
            f"Le certificat de cachet « {path.name} » n'a pas pu être ouvert : mot de passe "
            "incorrect ou fichier PKCS#12 invalide."
        ) from exc
    signer = KeptKeySigner(  # pyHanko builds a SimpleSigner whatever the class it is called on
        signing_cert=read.signing_cert,
        signing_key=read.signing_key,
        cert_registry=read.cert_registry,
        signature_mechanism=read.signature_mechanism,
    )
    cert = signer.signing_cert
    if cert is None:  # pragma: no cover - load_pkcs12_data always sets it
        raise SealError(f"Le fichier « {path.name} » ne contient pas de certificat de cachet.")
    now = clock.now()
    if cert.not_valid_after < now:
        raise SealError(
            f"Le certificat de cachet « {_common_name(cert)} » a expiré le "
            f"{cert.not_valid_after:%d/%m/%Y}."
        )
    chain_roots = [c for c in signer.cert_registry if _self_signed(c)]
    roots: list[asn1_x509.Certificate] = []
    for root in [*chain_roots, *extra]:
        if all(root.sha256 != known.sha256 for known in roots):
            roots.append(root)
    if not roots:
        raise SealError(
            f"Le fichier « {path.name} » ne contient pas l'autorité racine du certificat de "
            "cachet : indiquez-la dans les autorités de confiance."
        )
    return Seal(
        signer=signer,
        certificate=cert,
        trust_roots=tuple(roots),
        crls=(),
        label=_common_name(cert),
        is_test=False,
    )


# Test authority ---------------------------------------------------------------------------------


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _new_key() -> rsa.RSAPrivateKey:
    # RSA: pyHanko's DummyTimeStamper only signs with RSA keys.
    return rsa.generate_private_key(public_exponent=65537, key_size=3072)


def _issue(
    subject: str,
    key: rsa.RSAPrivateKey,
    issuer: x509.Certificate | None,
    issuer_key: rsa.RSAPrivateKey,
    years: int,
    now: dt.datetime,
) -> x509.Certificate:
    is_ca = issuer is None
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer.subject if issuer else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        # An hour back: signatures made right away must not predate the certificate.
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365 * years))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not is_ca,
                content_commitment=not is_ca,  # nonRepudiation
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if issuer is not None:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
    if subject == TSA_CN:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _new_crl(root: x509.Certificate, root_key: rsa.RSAPrivateKey) -> x509.CertificateRevocationList:
    now = clock.now()
    return (
        x509.CertificateRevocationListBuilder()
        .issuer_name(root.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + _CRL_VALIDITY)
        .add_extension(x509.CRLNumber(int(now.timestamp())), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()), False
        )
        .sign(root_key, hashes.SHA256())
    )


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(folder: Path, name: str, data: bytes) -> None:
    """Atomic: readers see the old file or the new one, never half of it."""
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.")
    try:
        os.fchmod(fd, 0o600 if name in _KEYS else 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / name)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Serialises creation between processes (two workers starting together)."""
    with open(folder / ".verrou", "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _FILES)


def _create(folder: Path) -> None:
    os.chmod(folder, 0o700)  # it may predate us, created with the umask's mode
    for name in _FILES:  # leftovers of an interrupted creation
        (folder / name).unlink(missing_ok=True)
    now = clock.now()
    root_key, seal_key, tsa_key = _new_key(), _new_key(), _new_key()
    root = _issue(ROOT_CN, root_key, None, root_key, 20, now)
    seal = _issue(SEAL_CN, seal_key, root, root_key, 5, now)
    tsa = _issue(TSA_CN, tsa_key, root, root_key, 5, now)
    pem = serialization.Encoding.PEM
    _write(folder, _ROOT, root.public_bytes(pem))
    _write(folder, _ROOT_KEY, _pem_key(root_key))
    _write(folder, _TSA, tsa.public_bytes(pem))
    _write(folder, _TSA_KEY, _pem_key(tsa_key))
    _write(folder, _CRL, _new_crl(root, root_key).public_bytes(pem))
    _write(folder, _SEAL_KEY, _pem_key(seal_key))
    _write(folder, _SEAL, seal.public_bytes(pem))  # last: its presence means complete


def _load_crl(folder: Path) -> x509.CertificateRevocationList:
    return x509.load_pem_x509_crl((folder / _CRL).read_bytes())


def _renew_crl_if_due(folder: Path) -> None:
    def due() -> bool:
        next_update = _load_crl(folder).next_update_utc
        return next_update is None or next_update - _CRL_RENEW_BEFORE < clock.now()

    if not due():
        return
    with _locked(folder):
        if due():  # not renewed by another process meanwhile
            root = x509.load_pem_x509_certificate((folder / _ROOT).read_bytes())
            root_key = serialization.load_pem_private_key(
                (folder / _ROOT_KEY).read_bytes(), password=None
            )
            assert isinstance(root_key, rsa.RSAPrivateKey)
            _write(folder, _CRL, _new_crl(root, root_key).public_bytes(serialization.Encoding.PEM))


def _cert(folder: Path, name: str) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(
        x509.load_pem_x509_certificate((folder / name).read_bytes()).public_bytes(
            serialization.Encoding.DER
        )
    )


def _key(folder: Path, name: str) -> asn1_keys.PrivateKeyInfo:
    return load_private_key_from_pemder_data((folder / name).read_bytes(), passphrase=None)


def _prepare(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not _complete(folder):
        with _locked(folder):
            if not _complete(folder):  # another process may have created it meanwhile
                _create(folder)
    _renew_crl_if_due(folder)


def ensure_test_authority(folder: Path) -> Seal:
    """The test authority in `folder`, created on first call (idempotent, safe across
    processes). Never for production: it is not a recognised authority."""
    _prepare(folder)
    root = _cert(folder, _ROOT)
    seal = _cert(folder, _SEAL)
    crl = asn1_crl.CertificateList.load(_load_crl(folder).public_bytes(serialization.Encoding.DER))
    signer = KeptKeySigner(
        signing_cert=seal,
        signing_key=_key(folder, _SEAL_KEY),
        cert_registry=SimpleCertificateStore.from_certs([root]),  # type: ignore[no-untyped-call]
    )
    return Seal(
        signer=signer,
        certificate=seal,
        trust_roots=(root,),
        crls=(crl,),
        label=TEST_LABEL,
        is_test=True,
    )


def test_timestamper(folder: Path) -> DummyTimeStamper:
    """A time-stamper signing with the test authority's TSA certificate (tests and the
    test TSA server only)."""
    _prepare(folder)
    return DummyTimeStamper(
        tsa_cert=_cert(folder, _TSA),
        tsa_key=_key(folder, _TSA_KEY),
        certs_to_embed=SimpleCertificateStore.from_certs(  # type: ignore[no-untyped-call]
            [_cert(folder, _ROOT)]
        ),
    )


test_timestamper.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
