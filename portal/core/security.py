"""Secrets, tokens and password hashes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from portal.settings import get_settings

MIN_PASSWORD_LENGTH = 12


def new_token() -> str:
    """An unguessable token for a cookie or an e-mailed link (256 bits)."""
    return secrets.token_urlsafe(32)


def derived_token(secret: str, purpose: str, row_id: object) -> str:
    """The token of an e-mailed link, derived from the secret key and the row it opens: a job
    can rebuild it from the row id, and the database alone (which keeps only its hash) cannot."""
    digest = hmac.new(secret.encode(), f"{purpose}:{row_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def token_hash(token: str) -> str:
    """What the database keeps of a token: a leaked table does not let anyone in."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign(secret: str, value: str) -> str:
    return hmac.new(secret.encode(), value.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@cache
def _hasher(profile: str) -> PasswordHasher:
    if profile == "fast":  # the test suite: a login costs microseconds, not 50 ms of CPU
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    # argon2id with the library's RFC 9106 "low memory" profile: ~50 ms per hash on these machines.
    return PasswordHasher()


def _current_hasher() -> PasswordHasher:
    return _hasher(get_settings().password_hashing)


def hash_password(password: str) -> str:
    return _current_hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        # Spend the same time as a real check so timing does not reveal OIDC-only accounts.
        _current_hasher().hash(password)
        return False
    try:
        # The hash carries its own cost: one made under another profile still verifies.
        return _current_hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str, user_inputs: Iterable[str] = ()) -> str | None:
    """Why `password` is refused, or None. `user_inputs`: the person's e-mail and name, which an
    attacker who targets them tries first."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Le mot de passe doit contenir au moins {MIN_PASSWORD_LENGTH} caractères."
    if len(password) > 256:
        return "Le mot de passe ne doit pas dépasser 256 caractères."
    if not strong_enough(password, user_inputs):
        return WEAK_PASSWORD_MESSAGE
    return None


WEAK_PASSWORD_MESSAGE = (
    "Ce mot de passe est trop courant ou trop facile à deviner (mot du dictionnaire, suite "
    "de touches, nom, adresse e-mail ou année). Choisissez plutôt une phrase de quatre mots "
    "sans lien entre eux."
)

# zxcvbn's dictionaries are English; it also tries these words (French favourites, the
# portal's own vocabulary) with their usual disguises (capitals, digits, years, l33t).
_COMMON_WORDS = tuple(
    (Path(__file__).parent / "common_passwords.txt").read_text(encoding="utf-8").split()
)
# zxcvbn's own ceiling: its matching is quadratic, so it only looks at the start.
_ESTIMATED_LENGTH = 72


def strong_enough(password: str, user_inputs: Iterable[str] = ()) -> bool:
    """zxcvbn score 3 or more ("safely unguessable": about 10^8 guesses or more)."""
    values = [value.lower() for value in user_inputs]
    inputs = values + [part for value in values for part in re.split(r"[\s@._+-]+", value)]
    result = zxcvbn(
        password[:_ESTIMATED_LENGTH],
        user_inputs=[*(p for p in inputs if len(p) > 2), *_COMMON_WORDS],
        max_length=_ESTIMATED_LENGTH,
    )
    return int(result["score"]) >= 3
