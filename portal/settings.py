"""Every setting the portal reads, from `PORTAL_*` environment variables, in one place.

With nothing set the portal runs on the embedded default: a SQLite file and local folders under
`./var`, and a secret key generated once and kept there. `tests/test_settings.py` checks that each
variable read here is documented in `infra/.env.example`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any


class SettingsError(RuntimeError):
    """A setting is missing or wrong: the process must not start."""


# Said by `portal worker` when it has no Redis (before it loads its handlers).
WORKER_NEEDS_REDIS = "PORTAL_REDIS_URL n'est pas configuré : `portal worker` en a besoin."


@dataclass(frozen=True)
class OidcProviderSettings:
    name: str
    label: str
    issuer: str
    client_id: str
    client_secret: str
    # Some providers (ProConnect) only hand out e-mails they verified and send no
    # `email_verified` claim; the operator vouches for them with this flag.
    trust_email: bool = False
    scope: str = "openid email profile"


@dataclass(frozen=True)
class Settings:
    env: str
    data_dir: Path
    database_url: str
    secret_key: str
    base_url: str
    smtp_url: str | None
    mail_from: str
    oidc_providers: tuple[OidcProviderSettings, ...] = field(default_factory=tuple)
    redis_url: str | None = None
    job_timeout_seconds: int = 300
    storage_url: str | None = None
    storage_public_url: str | None = None
    upload_max_bytes: int = 50 * 1024 * 1024
    clamd_socket: str | None = None
    retention_days: int = 30
    signing_pkcs12: Path | None = None
    signing_pkcs12_password: str = ""
    signing_seals_dir: Path | None = None
    signing_trusted_cas: tuple[Path, ...] = ()
    tsa_url: str | None = None
    # Faults: short storage timeouts (a hung S3 answers in seconds), a job lease renewed by the
    # worker's heartbeat (a killed worker's jobs are taken over within it), the delay between
    # retries of a job that met an outage (not counted as a failed attempt).
    storage_connect_timeout: float = 3.0
    storage_read_timeout: float = 10.0
    job_lease_seconds: int = 60
    outage_retry_seconds: int = 30
    # Objects stored but not yet confirmed by their row are removed after this (an upload in
    # progress is never older); it also bounds how long a killed upload's spool file stays.
    orphan_grace_seconds: int = 3600
    spool_dir_setting: Path | None = None
    quiet_hours: tuple[int, int] | None = (20 * 60, 8 * 60)  # minutes since midnight, Paris
    worker_stale_seconds: int = 60
    log_level: str = "INFO"
    # "fast": a cheap argon2 cost for the test suite, refused in production.
    password_hashing: str = "standard"
    # The schema's owner, for migrations only; the portal's own role (`database_url`) may not
    # bypass row-level security.
    migration_database_url: str | None = None
    # Wraps each consortium's data key for households (`portal.households.sealing`).
    household_master_key: bytes = b""

    @property
    def spool_dir(self) -> Path:
        """Where uploads are received and PDFs prepared before they go to storage."""
        return self.spool_dir_setting or self.data_dir / "spool"

    @property
    def signing_dir(self) -> Path:
        return self.data_dir / "signing"

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def https(self) -> bool:
        return self.base_url.startswith("https://")

    def oidc_provider(self, name: str) -> OidcProviderSettings | None:
        return next((p for p in self.oidc_providers if p.name == name), None)


def _secret_key(env: str, data_dir: Path) -> str:
    configured = os.environ.get("PORTAL_SECRET_KEY", "")
    if configured:
        if len(configured) < 32:
            raise SettingsError("PORTAL_SECRET_KEY doit contenir au moins 32 caractères.")
        return configured
    if env == "production":
        raise SettingsError(
            "PORTAL_SECRET_KEY est obligatoire en production : le portail refuse de démarrer "
            "avec une clé par défaut."
        )
    return _kept(data_dir / "secret_key", lambda: secrets.token_urlsafe(48))


def _kept(path: Path, make: Callable[[], str]) -> str:
    """Embedded default: generated once, kept in the data folder, readable by its owner only."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
    return path.read_text().strip()


def _household_master_key(env: str, data_dir: Path) -> bytes:
    configured = os.environ.get("PORTAL_HOUSEHOLD_MASTER_KEY", "")
    if not configured:
        if env == "production":
            raise SettingsError(
                "PORTAL_HOUSEHOLD_MASTER_KEY est obligatoire en production : il protège "
                "l'identité et le diagnostic des ménages."
            )
        configured = _kept(
            data_dir / "household_master_key",
            lambda: base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        )
    try:
        key = base64.urlsafe_b64decode(configured.encode())
    except (ValueError, binascii.Error):
        key = b""
    if len(key) != 32:
        raise SettingsError(
            "PORTAL_HOUSEHOLD_MASTER_KEY doit contenir 32 octets aléatoires en base64 (URL)."
        )
    return key


def _oidc_providers(raw: str) -> tuple[OidcProviderSettings, ...]:
    if not raw.strip():
        return ()
    try:
        items: list[dict[str, Any]] = json.loads(raw)
        return tuple(
            OidcProviderSettings(
                name=item["name"],
                label=item.get("label", item["name"]),
                issuer=item["issuer"].rstrip("/"),
                client_id=item["client_id"],
                client_secret=item["client_secret"],
                trust_email=bool(item.get("trust_email", False)),
                scope=item.get("scope", "openid email profile"),
            )
            for item in items
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SettingsError(
            f"PORTAL_OIDC_PROVIDERS n'est pas une liste JSON valide : {exc}"
        ) from exc


def load_settings() -> Settings:
    env = os.environ.get("PORTAL_ENV", "development")
    if env not in {"development", "production"}:
        raise SettingsError("PORTAL_ENV vaut 'development' ou 'production'.")
    data_dir = Path(os.environ.get("PORTAL_DATA_DIR", "var")).resolve()
    database_url = os.environ.get("PORTAL_DATABASE_URL", "")
    if not database_url:
        if env == "production":
            raise SettingsError("PORTAL_DATABASE_URL est obligatoire en production.")
        database_url = f"sqlite:///{data_dir / 'portal.sqlite3'}"
    base_url = os.environ.get("PORTAL_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
    return Settings(
        env=env,
        data_dir=data_dir,
        database_url=database_url,
        secret_key=_secret_key(env, data_dir),
        base_url=base_url,
        smtp_url=os.environ.get("PORTAL_SMTP_URL") or None,
        mail_from=os.environ.get("PORTAL_MAIL_FROM", "Portail partenariats <no-reply@localhost>"),
        oidc_providers=_oidc_providers(os.environ.get("PORTAL_OIDC_PROVIDERS", "")),
        redis_url=os.environ.get("PORTAL_REDIS_URL") or None,
        job_timeout_seconds=_positive_int("PORTAL_JOB_TIMEOUT", 300),
        storage_url=os.environ.get("PORTAL_STORAGE_URL") or None,
        storage_public_url=os.environ.get("PORTAL_STORAGE_PUBLIC_URL") or None,
        upload_max_bytes=_positive_int("PORTAL_UPLOAD_MAX_MB", 50) * 1024 * 1024,
        clamd_socket=os.environ.get("PORTAL_CLAMD_SOCKET") or None,
        retention_days=_positive_int("PORTAL_RETENTION_DAYS", 30),
        signing_pkcs12=_path("PORTAL_SIGNING_PKCS12"),
        signing_pkcs12_password=os.environ.get("PORTAL_SIGNING_PKCS12_PASSWORD", ""),
        signing_seals_dir=_path("PORTAL_SIGNING_SEALS_DIR"),
        signing_trusted_cas=tuple(
            Path(p).resolve()
            for p in os.environ.get("PORTAL_SIGNING_TRUSTED_CAS", "").split(os.pathsep)
            if p.strip()
        ),
        tsa_url=os.environ.get("PORTAL_TSA_URL") or None,
        storage_connect_timeout=_positive_float("PORTAL_STORAGE_CONNECT_TIMEOUT", 3.0),
        storage_read_timeout=_positive_float("PORTAL_STORAGE_READ_TIMEOUT", 10.0),
        job_lease_seconds=_positive_int("PORTAL_JOB_LEASE", 60),
        outage_retry_seconds=_positive_int("PORTAL_OUTAGE_RETRY", 30),
        orphan_grace_seconds=_positive_int("PORTAL_ORPHAN_GRACE", 3600),
        spool_dir_setting=(
            Path(os.environ["PORTAL_SPOOL_DIR"]).resolve()
            if os.environ.get("PORTAL_SPOOL_DIR")
            else None
        ),
        quiet_hours=_quiet_hours(os.environ.get("PORTAL_QUIET_HOURS", "20:00-08:00")),
        worker_stale_seconds=_positive_int("PORTAL_WORKER_STALE", 60),
        log_level=_log_level(os.environ.get("PORTAL_LOG_LEVEL", "INFO")),
        password_hashing=_password_hashing(env, os.environ.get("PORTAL_PASSWORD_HASHING", "")),
        migration_database_url=os.environ.get("PORTAL_MIGRATION_DATABASE_URL") or None,
        household_master_key=_household_master_key(env, data_dir),
    )


def _path(name: str) -> Path | None:
    raw = os.environ.get(name, "")
    if not raw:
        return None
    path = Path(raw).resolve()
    if not path.exists():
        raise SettingsError(f"{name} désigne {path}, qui n'existe pas.")
    return path


def _positive_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) == 0:
        raise SettingsError(f"{name} est un nombre entier supérieur à zéro.")
    return int(raw)


def _positive_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise SettingsError(f"{name} est un nombre de secondes supérieur à zéro (ex. 2.5).")
    return value


_HOURS = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


def _quiet_hours(raw: str) -> tuple[int, int] | None:
    """ "20:00-08:00" (Paris time), or "off": no quiet hours."""
    if raw.strip().lower() in {"off", "non", ""}:
        return None
    match = _HOURS.match(raw.strip())
    if match:
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 < 24 and h2 < 24 and m1 < 60 and m2 < 60 and (h1, m1) != (h2, m2):
            return h1 * 60 + m1, h2 * 60 + m2
    raise SettingsError("PORTAL_QUIET_HOURS s'écrit HH:MM-HH:MM (ex. 20:00-08:00), ou off.")


def _password_hashing(env: str, raw: str) -> str:
    value = raw.strip().lower() or "standard"
    if value not in ("standard", "fast"):
        raise SettingsError("PORTAL_PASSWORD_HASHING vaut 'standard' ou 'fast'.")
    if value == "fast" and env == "production":
        raise SettingsError(
            "PORTAL_PASSWORD_HASHING=fast affaiblit les mots de passe : réservé aux tests."
        )
    return value


def _log_level(raw: str) -> str:
    level = raw.strip().upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise SettingsError("PORTAL_LOG_LEVEL vaut DEBUG, INFO, WARNING ou ERROR.")
    return level


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
