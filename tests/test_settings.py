from __future__ import annotations

import base64
import os
import re
import stat
from pathlib import Path

import pytest

from portal.settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in list(os.environ):
        if name.startswith("PORTAL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


class TestEmbeddedDefault:
    def test_nothing_set_means_sqlite_and_folders_under_var(self, clean_env: Path) -> None:
        settings = load_settings()
        assert settings.database_url == f"sqlite:///{clean_env / 'var' / 'portal.sqlite3'}"
        assert settings.data_dir == clean_env / "var"
        assert settings.smtp_url is None

    def test_secret_key_is_generated_once_and_kept_private(self, clean_env: Path) -> None:
        first = load_settings().secret_key
        assert len(first) >= 32
        assert load_settings().secret_key == first
        mode = stat.S_IMODE((clean_env / "var" / "secret_key").stat().st_mode)
        assert mode == 0o600


class TestProduction:
    def test_refuses_to_start_without_a_secret(
        self, clean_env: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PORTAL_ENV", "production")
        monkeypatch.setenv("PORTAL_DATABASE_URL", "postgresql://db/portal")
        with pytest.raises(SettingsError, match="PORTAL_SECRET_KEY est obligatoire"):
            load_settings()
        assert not (clean_env / "var" / "secret_key").exists()

    def test_households_master_key_is_generated_once_and_kept_private(
        self, clean_env: Path
    ) -> None:
        first = load_settings().household_master_key
        assert len(first) == 32
        assert load_settings().household_master_key == first
        mode = stat.S_IMODE((clean_env / "var" / "household_master_key").stat().st_mode)
        assert mode == 0o600

    def test_production_refuses_to_start_without_the_households_master_key(
        self, clean_env: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PORTAL_ENV", "production")
        monkeypatch.setenv("PORTAL_SECRET_KEY", "x" * 40)
        monkeypatch.setenv("PORTAL_DATABASE_URL", "postgresql://db/portal")
        with pytest.raises(SettingsError, match="PORTAL_HOUSEHOLD_MASTER_KEY est obligatoire"):
            load_settings()
        monkeypatch.setenv("PORTAL_HOUSEHOLD_MASTER_KEY", "trop-court")
        with pytest.raises(SettingsError, match="32 octets"):
            load_settings()
        assert not (clean_env / "var" / "household_master_key").exists()

    def test_refuses_a_short_secret(self, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("PORTAL_SECRET_KEY", "trop-court")
        with pytest.raises(SettingsError):
            load_settings()

    def test_refuses_the_test_suites_cheap_password_hashing(
        self, clean_env: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PORTAL_ENV", "production")
        monkeypatch.setenv("PORTAL_SECRET_KEY", "x" * 40)
        monkeypatch.setenv("PORTAL_DATABASE_URL", "postgresql://db/portal")
        monkeypatch.setenv("PORTAL_PASSWORD_HASHING", "fast")
        monkeypatch.setenv(
            "PORTAL_HOUSEHOLD_MASTER_KEY", base64.urlsafe_b64encode(b"k" * 32).decode()
        )
        with pytest.raises(SettingsError, match="réservé aux tests"):
            load_settings()
        monkeypatch.delenv("PORTAL_PASSWORD_HASHING")
        assert load_settings().password_hashing == "standard"

    def test_refuses_to_start_without_a_database(
        self, clean_env: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PORTAL_ENV", "production")
        monkeypatch.setenv("PORTAL_SECRET_KEY", "x" * 40)
        with pytest.raises(SettingsError, match="PORTAL_DATABASE_URL"):
            load_settings()

    def test_bad_oidc_json_is_explained(
        self, clean_env: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("PORTAL_OIDC_PROVIDERS", '[{"name": "x"}]')
        with pytest.raises(SettingsError, match="PORTAL_OIDC_PROVIDERS"):
            load_settings()


class TestEnvExample:
    def test_every_setting_read_by_the_code_is_documented(self) -> None:
        read: set[str] = set()
        for path in [*(ROOT / "portal").rglob("*.py"), *(ROOT / "workers").rglob("*.py")]:
            read |= set(re.findall(r"\b(PORTAL_[A-Z0-9_]+)\b", path.read_text()))
        documented = set(
            re.findall(
                r"^#?\s*(PORTAL_[A-Z0-9_]+)=", (ROOT / "infra" / ".env.example").read_text(), re.M
            )
        )
        assert read, "no setting found: the scan is broken"
        assert sorted(read - documented) == []
