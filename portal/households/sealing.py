"""Households' data sealed at rest: AES-256-GCM under a per-consortium data key, itself
wrapped by the master key of the settings (`PORTAL_HOUSEHOLD_MASTER_KEY`).

Each sealed text is bound to its household and to what it is (the AEAD's associated data):
a sealed diagnostic copied onto another household's row, or into another column, does not
open. Search by name goes through a keyed hash of the normalised family name, so the
database never holds a name in clear, not even as an index. A dump or a backup without the
master key shows nothing of a household but its pseudonym and its pathway codes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import unicodedata
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from portal.core.tenancy import TenantScope
from portal.households import repository
from portal.settings import get_settings

_VERSION = "1."
_NONCE = 12


class Unreadable(RuntimeError):
    """A sealed value does not open: the master key changed, or the value was moved."""


def _master() -> AESGCM:
    return AESGCM(get_settings().household_master_key)


def _wrap(key: bytes, consortium_id: uuid.UUID) -> str:
    nonce = os.urandom(_NONCE)
    sealed = _master().encrypt(nonce, key, b"data-key:" + consortium_id.bytes)
    return base64.b64encode(nonce + sealed).decode()


def _unwrap(wrapped: str, consortium_id: uuid.UUID) -> bytes:
    raw = base64.b64decode(wrapped)
    try:
        return _master().decrypt(raw[:_NONCE], raw[_NONCE:], b"data-key:" + consortium_id.bytes)
    except InvalidTag as exc:
        raise Unreadable("la clé maîtresse des ménages ne correspond pas") from exc


@dataclass(frozen=True)
class Sealer:
    """One consortium's data key, unwrapped: seals and opens its households' texts."""

    consortium_id: uuid.UUID
    key: bytes

    def seal(self, household_id: uuid.UUID, what: str, text: str) -> str:
        if not text:
            return ""
        nonce = os.urandom(_NONCE)
        sealed = AESGCM(self.key).encrypt(nonce, text.encode(), _bound(household_id, what))
        return _VERSION + base64.b64encode(nonce + sealed).decode()

    def open(self, household_id: uuid.UUID, what: str, sealed: str) -> str:
        if not sealed:
            return ""
        raw = base64.b64decode(sealed.removeprefix(_VERSION))
        try:
            plain = AESGCM(self.key).decrypt(raw[:_NONCE], raw[_NONCE:], _bound(household_id, what))
        except InvalidTag as exc:
            raise Unreadable(f"{what} illisible") from exc
        return plain.decode()

    def seal_bytes(self, household_id: uuid.UUID, what: str, data: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + AESGCM(self.key).encrypt(nonce, data, _bound(household_id, what))

    def open_bytes(self, household_id: uuid.UUID, what: str, sealed: bytes) -> bytes:
        try:
            return AESGCM(self.key).decrypt(
                sealed[:_NONCE], sealed[_NONCE:], _bound(household_id, what)
            )
        except InvalidTag as exc:
            raise Unreadable(f"{what} illisible") from exc

    def seal_json(self, household_id: uuid.UUID, what: str, value: dict[str, Any]) -> str:
        return self.seal(household_id, what, json.dumps(value, ensure_ascii=False))

    def open_json(self, household_id: uuid.UUID, what: str, sealed: str) -> dict[str, Any]:
        opened: dict[str, Any] = json.loads(self.open(household_id, what, sealed) or "{}")
        return opened

    def name_hash(self, name: str) -> str:
        """The keyed hash search compares: equal for « Müller », « MULLER », « muller »."""
        search_key = hmac.new(self.key, b"name-search", hashlib.sha256).digest()
        return hmac.new(search_key, normalise(name).encode(), hashlib.sha256).hexdigest()


def _bound(household_id: uuid.UUID, what: str) -> bytes:
    return household_id.bytes + what.encode()


def normalise(name: str) -> str:
    """Lower case, no accent, hyphens and apostrophes as spaces, single spaces."""
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[-'’.]", " ", plain).split())


# Unwrapped keys, per process, by their wrapped form: the wrapped key is read at each use (one
# indexed row), so a key created in a transaction that rolled back is never used again.
_keys: dict[str, bytes] = {}


async def sealer(scope: TenantScope) -> Sealer:
    """The consortium's sealer; its data key is created on first use."""
    wrapped = await repository.data_key(scope)
    if wrapped is None:
        await repository.insert_data_key(
            scope, _wrap(AESGCM.generate_key(bit_length=256), scope.consortium_id)
        )
        wrapped = await repository.data_key(scope)  # ours, or a concurrent first one
        assert wrapped is not None
    key = _keys.get(wrapped)
    if key is None:
        key = _keys[wrapped] = _unwrap(wrapped, scope.consortium_id)
    return Sealer(scope.consortium_id, key)
