"""The form layer (portal/core/forms.py): what no field may hold is refused once, in French,
beside the field, and nothing is written. The fuzz test (test_fuzz_forms.py) runs the same
refusals over every form; these are the cases a user meets first."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, World, csrf_token, login

ROOT = Path(__file__).resolve().parents[1]


def _field_error(html: str, name: str) -> str:
    match = re.search(rf'id="f-{re.escape(name)}-error">(.*?)</p>', html, re.S)
    assert match, f"no error shown beside {name}"
    return re.sub(r"<[^>]+>", "", match.group(1))


async def _deadlines() -> int:
    from portal.deadlines.tables import Deadline

    count: int = await Deadline.count()  # tenant-scope-ok: test
    return count


class TestControlCharacters:
    async def test_a_nul_byte_in_the_login_email_is_refused_beside_the_field(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        token = await csrf_token(client)
        response = await client.post(
            "/login",
            data={
                "csrf_token": token,
                "email": world.tenant.pilot.email + "\x00",
                "password": PASSWORD,
            },
        )
        assert response.status_code == 400
        assert "caractère invisible non autorisé" in _field_error(response.text, "email")
        assert "portal_session" not in response.headers.get("set-cookie", "")

    async def test_a_control_character_in_a_title_writes_nothing(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        path = f"/c/{world.tenant.slug}/echeances"
        response = await client.post(
            path,
            data={
                "csrf_token": await csrf_token(client, path),
                "title": "Comité\x1b[31m de pilotage",
                "due_on": "31/03/2027",
            },
        )
        assert response.status_code == 400
        assert "caractère de contrôle" in _field_error(response.text, "title")
        assert await _deadlines() == 0


class TestSingleLineAndLength:
    async def test_a_line_break_in_a_single_line_field_is_refused(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        path = f"/c/{world.tenant.slug}/echeances"
        response = await client.post(
            path,
            data={
                "csrf_token": await csrf_token(client, path),
                "title": "Bilan\r\nBcc: tout-le-monde@example.org",
                "due_on": "31/03/2027",
            },
        )
        assert response.status_code == 400
        assert "une seule ligne" in _field_error(response.text, "title")
        assert await _deadlines() == 0

    async def test_a_value_too_long_is_refused_not_truncated(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        path = f"/c/{world.tenant.slug}/echeances"
        response = await client.post(
            path,
            data={
                "csrf_token": await csrf_token(client, path),
                "title": "B" * 201,
                "due_on": "31/03/2027",
            },
        )
        assert response.status_code == 400
        assert "limité à 200 caractères" in _field_error(response.text, "title")
        assert await _deadlines() == 0

    async def test_a_text_longer_than_any_field_is_refused_whatever_the_field(
        self, client: httpx.AsyncClient, world: World
    ) -> None:
        await login(client, world.tenant.pilot.email)
        path = f"/c/{world.tenant.slug}/echeances"
        response = await client.post(
            path,
            data={
                "csrf_token": await csrf_token(client, path),
                "title": "Bilan annuel",
                "due_on": "31/03/2027",
                "description": "x" * 100_000,
            },
        )
        assert response.status_code == 400
        assert "limité à 20\u202f000 caractères" in _field_error(response.text, "description")
        assert await _deadlines() == 0


class TestAsciiDigits:
    @pytest.mark.parametrize("typed", ["１", "²", "١"])
    async def test_numbers_are_ascii_digits_only(
        self, client: httpx.AsyncClient, world: World, typed: str
    ) -> None:
        """« １ » was read as 1, and « ² » (a digit for `isdigit`, not for `int`) was a 500."""
        await login(client, world.tenant.pilot.email)
        path = f"/c/{world.tenant.slug}/echeances/rappels"
        response = await client.post(
            path,
            data={
                "csrf_token": await csrf_token(client, path),
                "before_days": "30, 7",
                "overdue_first": typed,
                "overdue_every": "7",
                "overdue_max": "4",
            },
        )
        assert response.status_code == 400
        assert "nombre entier" in _field_error(response.text, "overdue_first")

    def test_amounts_are_ascii_digits_only(self) -> None:
        from portal.core.forms import FieldError
        from portal.core.money import parse_cents

        assert parse_cents("1 234,56", "amount") == 123456
        with pytest.raises(FieldError):
            parse_cents("１２３", "amount")

    def test_dates_are_ascii_digits_only(self) -> None:
        from portal.core.forms import parse_date

        assert parse_date("１５/０６/２０３０") is None


class TestMailHeaders:
    def test_a_line_break_typed_in_a_name_never_starts_a_header(self) -> None:
        from portal.core import mail
        from portal.settings import get_settings

        message = mail.build_message(
            get_settings(),
            "referente@alpha.example.org",
            "Invitation de Jean\r\nBcc: tout-le-monde@example.org",
            "password_reset",
            {"name": "Jean", "link": "https://portail.example.org/x"},
        )
        assert message["Bcc"] is None
        assert message["Subject"] == "Invitation de Jean Bcc: tout-le-monde@example.org"
        assert "\nBcc:" not in message.as_string()


class TestEveryRouteUsesTheFormLayer:
    def test_no_route_reads_a_body_without_read_form(self) -> None:
        """`await request.form()` would skip the checks: only core/forms.py calls it."""
        offenders = []
        for path in sorted((ROOT / "portal").rglob("*.py")):
            if path == ROOT / "portal/core/forms.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "form"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "request"
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
        assert not offenders, f"use portal.core.forms.read_form: {offenders}"
