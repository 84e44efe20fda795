"""Validation of consortium, organisation, invitation and member forms (messages in French)."""

from __future__ import annotations

import re
import uuid

from starlette.datastructures import FormData

from portal.auth.service import normalise_email
from portal.core.forms import FormResult, checkbox, text
from portal.core.permissions import Role
from portal.tenants.enums import ConsortiumStatus, OrganisationKind, Programme

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,62}[a-z0-9])$")
RESERVED_SLUGS = frozenset({"admin", "login", "static", "api", "new", "nouveau"})
DEPARTEMENTS = frozenset(
    [f"{n:02d}" for n in range(1, 96) if n != 20] + ["2A", "2B", "971", "972", "973", "974", "976"]
)


def siret_is_valid(siret: str) -> bool:
    """14 digits with a valid Luhn key. La Poste's establishments (SIREN 356000000) are the
    known exception: their digit sum is a multiple of 5 instead."""
    if not re.fullmatch(r"\d{14}", siret):
        return False
    if siret.startswith("356000000") and sum(int(c) for c in siret) % 5 == 0:
        return True
    total = 0
    for index, char in enumerate(reversed(siret)):
        digit = int(char)
        if index % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def parse_departements(raw: str) -> tuple[list[str], str | None]:
    codes = [c.strip().upper() for c in re.split(r"[,;\s]+", raw) if c.strip()]
    if not codes:
        return [], "Indiquez au moins un département (par exemple 69, 2A, 974)."
    unknown = [c for c in codes if c not in DEPARTEMENTS]
    if unknown:
        return [], f"Département(s) inconnu(s) : {', '.join(unknown)}."
    return sorted(set(codes), key=codes.index), None


def consortium_form(form: FormData) -> FormResult:
    result = FormResult.of(form)
    name = text(form, "name")
    slug = text(form, "slug", 64).lower()
    programme = text(form, "programme")
    departements, dep_error = parse_departements(text(form, "departements", 400))
    status = text(form, "status") or ConsortiumStatus.ACTIVE.value
    if len(name) < 3:
        result.errors["name"] = "Indiquez le nom du consortium (3 caractères au moins)."
    if not SLUG_RE.fullmatch(slug) or slug in RESERVED_SLUGS:
        result.errors["slug"] = (
            "L'identifiant d'adresse contient de 3 à 64 lettres minuscules, chiffres ou tirets, "
            "sans tiret au début ni à la fin."
        )
    if programme not in set(Programme):
        result.errors["programme"] = "Choisissez un programme dans la liste."
    if dep_error:
        result.errors["departements"] = dep_error
    if status not in set(ConsortiumStatus):
        result.errors["status"] = "Choisissez un statut dans la liste."
    result.values = {
        "name": name,
        "slug": slug,
        "programme": programme,
        "departements": departements,
        "departements_raw": text(form, "departements", 400),
        "status": status,
    }
    return result


def organisation_form(form: FormData) -> FormResult:
    result = FormResult.of(form)
    name = text(form, "name")
    siret = re.sub(r"\s", "", text(form, "siret", 40))
    kinds = [k for k in form.getlist("kinds") if isinstance(k, str) and k in set(OrganisationKind)]
    city = text(form, "city", 100)
    if len(name) < 2:
        result.errors["name"] = "Indiquez le nom de l'organisation."
    if not siret_is_valid(siret):
        result.errors["siret"] = (
            "Le SIRET comporte 14 chiffres et sa clé de contrôle doit être exacte : "
            "vérifiez-le sur l'avis de situation Insee."
        )
    if not kinds:
        result.errors["kinds"] = "Cochez au moins un type d'organisation."
    result.values = {"name": name, "siret": siret, "kinds": kinds, "city": city}
    return result


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def invitation_form(form: FormData) -> FormResult:
    result = FormResult.of(form)
    raw_email = text(form, "email", 254)
    email = normalise_email(raw_email)
    organisation_id = _uuid(text(form, "organisation"))
    role = text(form, "role")
    if email is None:
        result.errors["email"] = (
            "Saisissez une adresse e-mail valide, par exemple nom@organisme.fr."
        )
    if organisation_id is None:
        result.errors["organisation"] = "Choisissez l'organisation de la personne invitée."
    if role not in set(Role):
        result.errors["role"] = "Choisissez un rôle dans la liste."
    result.values = {
        "email": email or raw_email,
        "organisation_id": organisation_id,
        "role": role,
        "may_sign": checkbox(form, "may_sign"),
    }
    return result


def member_form(form: FormData) -> FormResult:
    result = FormResult.of(form)
    role = text(form, "role")
    if role not in set(Role):
        result.errors["role"] = "Choisissez un rôle dans la liste."
    result.values = {"role": role, "may_sign": checkbox(form, "may_sign")}
    return result


def settings_form(form: FormData) -> FormResult:
    """The consortium's settings: checkboxes, so nothing to refuse."""
    result = FormResult.of(form)
    result.values = {
        "self_review_allowed": checkbox(form, "self_review_allowed"),
        "pilot_second_factor_required": checkbox(form, "pilot_second_factor_required"),
    }
    return result
