"""Checking any PDF: each signature (signer, time, intact or altered, covering the whole file)
and whether the file is, or extends, a document signed through the portal. Shared by the public
page `/verification` and `portal verify`."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from typing import TYPE_CHECKING

from portal.core.scope import platform_scope
from portal.core.tenancy import TenantScope
from portal.settings import get_settings
from portal.signing import files, keys, repository
from portal.signing.enums import RequestStatus
from portal.signing.seals import Seal, SealError

if TYPE_CHECKING:
    from portal.signing.pades.validation import SignatureReport


@dataclasses.dataclass
class Verdict:
    reports: list[SignatureReport]
    match: str  # French sentence about the portal's own records
    exact: bool  # the file is byte for byte a revision stored by the portal

    @property
    def ok(self) -> bool:
        """Every signature intact and valid, and nothing added after the last one but what
        the rules allow (form filling, validation data, time-stamps)."""
        return (
            bool(self.reports)
            and all(r.intact and r.valid and r.bottom_line for r in self.reports)
            and self.reports[-1].covers_whole_document
        )


_FOUND_BY_SHA = "an uploaded PDF is a revision signed in this consortium"


async def _seal_of(consortium_id: uuid.UUID) -> Seal:
    return await keys.seal(TenantScope.for_platform(consortium_id, reason=_FOUND_BY_SHA))


async def verify(data: bytes, fallback: Seal | None = None) -> Verdict:
    async with platform_scope("any PDF is checked against every consortium's signed documents"):
        return await _verify(data, fallback)


async def _verify(data: bytes, fallback: Seal | None) -> Verdict:
    # pyHanko on first use (see portal.signing.seals)
    from portal.signing.authority import load_trust_roots
    from portal.signing.pades.validation import validate

    sha = hashlib.sha256(data).hexdigest()
    stored = await repository.revision_by_sha(sha)
    try:
        seal = await _seal_of(stored["consortium"]) if stored else (fallback or keys.seal_for(""))
        roots, crls = seal.trust_roots, seal.crls
    except SealError:
        # No seal configured (production): still report integrity, against the accepted CAs.
        roots = load_trust_roots(get_settings().signing_trusted_cas)
        crls = ()
    reports = await files.cpu(validate, data, roots, crls)
    if stored is None:
        # Perhaps a portal revision with more appended (an external tool's counter-signature).
        for report in reports:
            earlier = await repository.revision_by_sha(report.revision_sha256)
            if earlier is not None:
                return Verdict(
                    reports,
                    "Ce fichier prolonge un document signé via le portail (révision "
                    f"{earlier['number']}), avec des ajouts faits hors du portail.",
                    False,
                )
        return Verdict(
            reports, "Ce fichier ne correspond à aucun document signé via le portail.", False
        )
    scope = TenantScope.for_platform(stored["consortium"], reason=_FOUND_BY_SHA)
    req = await repository.request(scope, stored["request"])
    state = RequestStatus(req["status"]).label.lower() if req else "inconnue"
    return Verdict(
        reports,
        f"Ce fichier est exactement la révision {stored['number']} d'un document signé via le "
        f"portail (demande de signature {state}).",
        True,
    )
