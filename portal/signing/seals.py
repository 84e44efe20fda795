"""The seal as the rest of the domain sees it: what `keys` hands out and `authority` builds.

No cryptography is imported here (types only): the web process and the CLI load pyHanko
(0.4 s of CPU and 18 MiB here, with aiohttp and asn1crypto) on their first signature or check,
not at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from asn1crypto import crl as asn1_crl  # type: ignore[import-untyped]
    from asn1crypto import x509 as asn1_x509
    from pyhanko.sign.signers import SimpleSigner


class SealError(RuntimeError):
    """The seal cannot be used; `message` is shown to users (French)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Seal:
    signer: SimpleSigner
    certificate: asn1_x509.Certificate
    trust_roots: tuple[asn1_x509.Certificate, ...]
    crls: tuple[asn1_crl.CertificateList, ...]
    label: str
    is_test: bool
