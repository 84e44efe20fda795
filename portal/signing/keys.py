"""Which seal signs for a consortium, which authorities it trusts, which time-stamper stamps.

Order: the consortium's own PKCS#12 (`PORTAL_SIGNING_SEALS_DIR/<slug>.p12`, its passphrase in
`<slug>.pass`), else the platform's (`PORTAL_SIGNING_PKCS12`), else, outside production only,
the test authority the portal creates on first use. Keys are never in the repository.

Trusted: the seal's own root, the platform's `PORTAL_SIGNING_TRUSTED_CAS` and the consortium's
`<slug>-autorites.pem` (e.g. the State service's RGS or qualified authority for external
steps). Seals are cached per process: a changed file is read after a restart.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from portal.core.tenancy import TenantScope
from portal.settings import get_settings
from portal.signing.seals import Seal, SealError
from portal.tenants import service as tenants

if TYPE_CHECKING:
    from pyhanko.sign.timestamps import TimeStamper


def _consortium_files(slug: str) -> tuple[Path, Path, Path] | None:
    folder = get_settings().signing_seals_dir
    if folder is None:
        return None
    return folder / f"{slug}.p12", folder / f"{slug}.pass", folder / f"{slug}-autorites.pem"


async def seal(scope: TenantScope) -> Seal:
    """The seal signing for this consortium (raises SealError when none may be used)."""
    found = await tenants.scope_and_consortium(scope.consortium_id)
    if found is None:
        raise LookupError(scope.consortium_id)
    return seal_for(found[1]["slug"])


@lru_cache(maxsize=64)
def seal_for(slug: str) -> Seal:
    from portal.signing import authority  # pyHanko on first use (see portal.signing.seals)

    settings = get_settings()
    extra = list(settings.signing_trusted_cas)
    files = _consortium_files(slug)
    if files and files[2].exists():  # the authorities this consortium accepts, whatever seals
        extra.append(files[2])
    if files and files[0].exists():
        p12, password, _ = files
        secret = password.read_bytes().strip() if password.exists() else None
        return authority.load_pkcs12(p12, secret, extra)
    if settings.signing_pkcs12 is not None:
        secret = settings.signing_pkcs12_password.encode() or None
        return authority.load_pkcs12(settings.signing_pkcs12, secret, extra)
    if settings.production:
        raise SealError(
            "Aucun certificat de cachet n'est configuré (PORTAL_SIGNING_PKCS12) : "
            "les demandes de signature sont indisponibles."
        )
    seal = authority.ensure_test_authority(settings.signing_dir)
    if extra:
        seal = dataclasses.replace(
            seal, trust_roots=seal.trust_roots + authority.load_trust_roots(extra)
        )
    return seal


def timestamps() -> bool:
    """Whether a time-stamping authority is configured (without building its client)."""
    return bool(get_settings().tsa_url)


def timestamper() -> TimeStamper | None:
    if not timestamps():
        return None
    from pyhanko.sign.timestamps import HTTPTimeStamper  # with aiohttp: on first use

    return HTTPTimeStamper(get_settings().tsa_url, timeout=10)
