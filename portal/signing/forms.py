"""Reading the signing forms: the pilot's request (participants, expiry, reminders) and the
signer's chosen mark; errors next to their fields."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime as dt
from collections.abc import Mapping
from typing import Any

from email_validator import EmailNotValidError, validate_email

from portal.core import clock
from portal.core.forms import FieldError, check_date, is_digits, read_date, text
from portal.signing.enums import ParticipantRole
from portal.signing.pades.errors import PadesError
from portal.signing.pades.marks import drawn_mark

REASON_MAX = 2000  # a cancellation's reason (the form layer refuses longer)
MARK_MAX_BYTES = 200_000


@dataclasses.dataclass
class Line:
    """One participant as typed in the form."""

    step: int
    role: ParticipantRole
    party_index: int  # 1-based party of the frozen version (its signature block)
    name: str
    title: str
    email: str


def parse_lines(form: Mapping[str, Any], parties: int) -> tuple[list[Line], dict[str, str]]:
    """Rows `p-<n>-<field>` of the form; a row without name and e-mail is ignored."""
    lines, errors = [], {}
    raw = str(form.get("rows", ""))
    count = int(raw) if is_digits(raw) else 0
    for n in range(min(count, 60)):

        def get(field: str, n: int = n) -> str:
            return text(form, f"p-{n}-{field}", 254)

        name, email = get("name"), get("email")
        if not name and not email:
            continue
        try:
            role = ParticipantRole(get("role"))
        except ValueError:
            errors[f"p-{n}-role"] = "Choisissez un rôle."
            continue
        step_raw, party_raw = get("step"), get("party")
        if not is_digits(step_raw) or not 1 <= int(step_raw) <= 9:
            errors[f"p-{n}-step"] = "L'étape est un nombre de 1 à 9."
            continue
        if not is_digits(party_raw) or not 1 <= int(party_raw) <= parties:
            errors[f"p-{n}-party"] = "Choisissez l'organisation partie à la convention."
            continue
        if not name:
            errors[f"p-{n}-name"] = "Indiquez le prénom et le nom."
            continue
        try:
            email = validate_email(email, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            errors[f"p-{n}-email"] = "Adresse e-mail invalide, par exemple prenom.nom@exemple.fr."
            continue
        lines.append(
            Line(int(step_raw), role, int(party_raw), name[:200], get("title")[:200], email)
        )
    if not errors and not any(line.role == ParticipantRole.SIGNER for line in lines):
        errors["request"] = "Il faut au moins un signataire."
    return lines, errors


def parse_reminders(raw: str) -> list[int]:
    try:
        parts = [part.strip() for part in raw.replace(";", ",").split(",") if part.strip()]
        if not all(is_digits(part) for part in parts):
            raise ValueError(raw)
        days = sorted({int(part) for part in parts})
    except ValueError as exc:
        raise FieldError(
            "Indiquez des nombres de jours séparés par des virgules, par exemple « 3, 7 ».",
            "reminder_days",
        ) from exc
    if not days or days[0] < 1 or days[-1] > 60:
        raise FieldError(
            "Les relances ont lieu entre 1 et 60 jours après l'envoi.", "reminder_days"
        )
    return days


def parse_expiry(raw: str) -> dt.date:
    value = read_date(raw)
    if value is None:
        raise FieldError("Date au format jj/mm/aaaa, par exemple 31/12/2026.", "expires_on")
    check_date(value, "expires_on")
    if value <= clock.today():
        raise FieldError("La date d'expiration doit être postérieure à aujourd'hui.", "expires_on")
    return value


@dataclasses.dataclass
class Mark:
    kind: str  # typed | drawn
    text: str
    image: str  # data URL


def parse_mark(kind: str, text: str, image: str, name: str) -> Mark:
    if kind == "drawn":
        prefix = "data:image/png;base64,"
        if not image.startswith(prefix):
            raise FieldError(
                "Tracez votre signature dans le cadre, ou choisissez de la taper.", "mark"
            )
        try:
            raw = base64.b64decode(image[len(prefix) :], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise FieldError(
                "Le tracé de la signature est illisible : recommencez.", "mark"
            ) from exc
        if not raw.startswith(b"\x89PNG") or len(raw) > MARK_MAX_BYTES:
            raise FieldError("Le tracé de la signature est illisible : recommencez.", "mark")
        try:
            drawn_mark(raw)  # decodes now: the signature job must not fail on it later
        except PadesError as exc:
            raise FieldError(exc.message, "mark") from exc
        return Mark("drawn", "", image)
    if kind == "typed":
        text = text.strip() or name
        return Mark("typed", text[:200], "")
    raise FieldError("Choisissez une signature tapée ou tracée.", "mark")
