"""Every POST route of the route table, fed what a careless user or an attacker types: NUL
bytes, control characters, non-ASCII digits, 100,000-character strings and implausible dates.

Forms are found by crawling the demo data as every role, so a new form is fuzzed without anyone
listing it; a POST route that no crawled form reaches must appear in `EXEMPT` with its reason,
or the test fails. For each form and kind of payload: no 5xx, a French message, nothing written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import pytest
from starlette.routing import BaseRoute, Mount, Route, compile_path

from portal.core.forms import CONTROL_MESSAGE
from tests.conftest import _table_names
from tests.fuzz_seed import seed

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

# Routes no crawl of the demo (with what `tests/fuzz_seed.py` adds to it) reaches, and why.
EXEMPT: dict[str, str] = {
    "/mot-de-passe/{token}": "reached from an e-mailed link: fuzzed by TestFuzzLinks",
    "/invitations/{token}": "reached from an e-mailed link: fuzzed by TestFuzzLinks",
    "/desabonnement/{token}": "one-click unsubscribe (RFC 8058) from an e-mail: no field",
}

# Tables a refused request may legitimately write, and why.
NOT_DOMAIN = {
    "audit_event": "records attempts (a refused login is an audit event)",
    "auth_login_attempt": "counts attempts, refused ones included, for the per-account lock",
    "auth_throttle": "counts requests per address, refused ones included (throttling)",
    "households_read": "logs reads: a refused form shown again shows the household's data",
}

NUL = "Nom\x00avec NUL"
CONTROL = "Texte\x07avec\x1bcontrôles\x7f"
DIGITS = "１２３"  # fullwidth digits: int() and Decimal() read 123
LONG = "x" * 100_000
DATES = ("31/12/9999", "01/01/1026")
# What marks a refusal in French: an error beside a field or above the form (the templates'
# markup, around a French sentence), or a French error page.
FRENCH = re.compile(
    r"<p class=\"error-message\"[^>]*>(?:<span[^>]*>Erreur : </span>)?\s*[A-ZÀ-Ý«]|"
    r"alert--error\"[^>]*>\s*[A-ZÀ-Ý«]|"
    r"<li><a href=\"#f-[^\"]*\">\s*[A-ZÀ-Ý«]|"  # the error summary above a form
    r"<h1>(Requête invalide|Page introuvable|Accès refusé|Action impossible|"
    r"Envoi trop volumineux)</h1>"
)
SKIP_LINKS = re.compile(r"\.(pdf|zip|csv|xlsx|ods|png|jpg|eml)(\?|$)|/static/|/logout|/telecharg")
DATE_FIELD = re.compile(r"(_on$|^from$|^to$|date|expires)")
NUMBER_FIELD = re.compile(
    r"(amount|total|unit_cost|rate|quantity|justified|target|_cents$|days|overdue|pos-|"
    r"duration|households|homes|step|rows$|revision)"
)
BENIGN = "Essai de saisie"
BENIGN_DATE = "15/06/2030"
WIDE_DATE = "１５/０６/２０３０"


# Crawling -------------------------------------------------------------------------------------


@dataclasses.dataclass
class Field:
    name: str
    kind: str  # input type, "textarea" or "select"
    value: str


@dataclasses.dataclass
class Form:
    page: str
    action: str
    fields: list[Field]
    multipart: bool


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.forms: list[tuple[str, bool, list[Field]]] = []
        self.get_forms: list[tuple[str, list[Field]]] = []
        self._form: list[Field] | None = None
        self._textarea: Field | None = None
        self._select: Field | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self._form = []
            if a.get("method", "get").lower() == "post":
                multipart = "multipart" in a.get("enctype", "")
                self.forms.append((a.get("action", ""), multipart, self._form))
            else:  # followed like a link, submitted as it stands
                self.get_forms.append((a.get("action", ""), self._form))
        elif self._form is None:
            return
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text").lower()
            if kind in {"checkbox", "radio"} and "checked" not in a:
                if any(f.name == a["name"] for f in self._form):
                    return
                if kind == "checkbox":
                    return
            if kind in {"submit", "image"}:
                self._button(a)
                return
            if kind in {"button", "reset"}:
                return
            self._form.append(Field(a["name"], kind, a.get("value", "")))
        elif tag == "button" and a.get("name") and a.get("type", "submit") == "submit":
            self._button(a)
        elif tag == "textarea" and a.get("name"):
            self._textarea = Field(a["name"], "textarea", "")
            self._form.append(self._textarea)
        elif tag == "select" and a.get("name"):
            self._select = Field(a["name"], "select", "")
            self._form.append(self._select)
        elif tag == "option" and self._select is not None:
            if not self._select.value or "selected" in a:
                self._select.value = a.get("value", "")

    def _button(self, a: dict[str, str]) -> None:
        """A browser sends the name and value of the button clicked: the first one here."""
        assert self._form is not None
        if a.get("name") and not any(f.kind == "submit" for f in self._form):
            self._form.append(Field(a["name"], "submit", a.get("value", "")))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.value += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def _pattern(path: str) -> str:
    return re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "{id}", path)


async def crawl(client: httpx.AsyncClient, start: list[str], limit: int = 250) -> list[Form]:
    """Pages reachable by links and GET forms (submitted with their first options) from
    `start` (at most 6 per shape of address), and their `<form method=post>`."""
    queue, seen, shapes, forms = list(start), set(), {}, []  # type: ignore[var-annotated]
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        seen.add(url)
        response = await client.get(url, follow_redirects=True)
        if response.status_code != 200 or "text/html" not in response.headers.get(
            "content-type", ""
        ):
            continue
        url = response.url.path + (f"?{response.url.query.decode()}" if response.url.query else "")
        seen.add(url)
        parser = _Parser()
        parser.feed(response.text)
        for action, multipart, fields in parser.forms:
            forms.append(Form(url, urljoin(url, action or url), fields, multipart))
        submitted = [
            urljoin(url, action or url).split("?")[0]
            + "?"
            + urlencode([(f.name, f.value) for f in fields])
            for action, fields in parser.get_forms
        ]
        for href in [*parser.links, *submitted]:
            target = urljoin(url, href)
            parts = urlsplit(target)
            if parts.netloc not in ("", "testserver") or SKIP_LINKS.search(target):
                continue
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            shape = _pattern(parts.path)
            if path in seen or shapes.get(shape, 0) >= 6:
                continue
            shapes[shape] = shapes.get(shape, 0) + 1
            queue.append(path)
    return forms


# The route table --------------------------------------------------------------------------------


def post_routes(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, re.Pattern[str]]]:
    found = []
    for route in routes:
        if isinstance(route, Mount):
            found += post_routes(list(route.routes), prefix + route.path)
        elif isinstance(route, Route) and route.methods and "POST" in route.methods:
            path = prefix + route.path
            found.append((path, compile_path(path)[0]))
    return found


def _starlette(app: Any) -> Any:
    while not hasattr(app, "routes"):
        app = app.app
    return app


# Payloads -----------------------------------------------------------------------------------


def _fuzzable(field: Field) -> bool:
    return field.name != "csrf_token" and field.kind not in {"file", "checkbox", "radio", "submit"}


def payloads(form: Form) -> list[tuple[str, dict[str, str]]]:
    """(kind, fields) to post: each bad value in every field it applies to, the others
    benign, so the bad value alone can be the reason for a refusal."""
    fields = [f for f in form.fields if _fuzzable(f)]
    if not fields:
        return []

    def benign(f: Field) -> str:
        if f.kind in {"hidden", "select", "submit"} or f.value:
            return f.value
        if DATE_FIELD.search(f.name):
            return BENIGN_DATE
        if NUMBER_FIELD.search(f.name):
            return "1"
        return BENIGN

    base = {f.name: benign(f) for f in form.fields if f.name != "csrf_token"}
    out: list[tuple[str, dict[str, str]]] = []
    for kind, value in (("NUL", NUL), ("contrôle", CONTROL)):
        out.append((kind, {**base, **{f.name: value for f in fields}}))
    # NUL in the first field a person types in, alone: the form layer's own message is shown.
    typed_in = [f for f in fields if f.kind not in {"hidden", "select"}]
    if typed_in:
        out.append((f"NUL seul dans {typed_in[0].name}", {**base, typed_in[0].name: NUL}))
    # 100,000 characters, a few fields per request (the body stays under the 1 MiB limit).
    typed = [f for f in fields if f.kind != "hidden"] or fields
    for start in range(0, len(typed), 8):
        chunk = {f.name: LONG for f in typed[start : start + 8]}
        out.append(("100 000 caractères", {**base, **chunk}))
    numbers = [f for f in fields if NUMBER_FIELD.search(f.name) and f.kind != "hidden"]
    dates = [f for f in fields if DATE_FIELD.search(f.name) and f.kind != "hidden"]
    if numbers or dates:  # a date is numbers too: « １５/０６/２０３０ »
        wide = {f.name: DIGITS for f in numbers} | {f.name: WIDE_DATE for f in dates}
        out.append(("chiffres non ASCII", {**base, **wide}))
    for day in DATES if dates else ():
        out.append((f"date {day}", {**base, **{f.name: day for f in dates}}))
    return out


# Nothing written --------------------------------------------------------------------------------


async def snapshot() -> dict[str, str]:
    from portal.core import db

    engine = db.engine()
    state = {}
    for table in _table_names():
        if table in NOT_DOMAIN:
            continue
        rows = await engine.run_querystring(  # tenant-scope-ok: test snapshot of every table
            _raw(f'SELECT * FROM "{table}"')
        )
        digest = hashlib.sha256(
            repr(sorted(repr(sorted(dict(r).items())) for r in rows)).encode()
        ).hexdigest()
        state[table] = f"{len(rows)}:{digest}"
    return state


def _raw(sql: str) -> Any:
    from piccolo.querystring import QueryString

    return QueryString(sql)


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(t for t in before if before[t] != after.get(t))


# The test -----------------------------------------------------------------------------------------


async def _login(client: httpx.AsyncClient, email: str, password: str) -> None:
    from tests.conftest import post_form

    response = await post_form(client, "/login", {"email": email, "password": password})
    assert response.status_code == 303, response.text[:500]


class TestFuzzEveryForm:
    async def test_every_post_route_refuses_bad_input_in_french_and_writes_nothing(
        self, app: Any, make_client: Any
    ) -> None:
        from portal import demo

        accounts = await demo.load()
        seeded = await seed(accounts, make_client)
        routes = post_routes(_starlette(app).routes)

        forms: list[tuple[httpx.AsyncClient, Form]] = []
        anonymous = make_client()
        for form in await crawl(anonymous, ["/login", "/mot-de-passe/oublie", "/verification"]):
            forms.append((anonymous, form))
        for form in await crawl(seeded.second_step, ["/login/code"], limit=1):
            forms.append((seeded.second_step, form))
        for link in seeded.links:  # the signers' pages, each opened by its own visitor
            visitor = make_client()
            for form in await crawl(visitor, [link], limit=1):
                forms.append((visitor, form))
        roles_seen = set()
        for email, password, role, slug in accounts:
            if role in roles_seen:
                continue  # one account per role is enough to see that role's forms
            roles_seen.add(role)
            client = make_client()
            await _login(client, email, password)
            if role == "platform_admin":
                await _second_factor(email)
            start = ["/admin", "/admin/taches"] if role == "platform_admin" else [f"/c/{slug}"]
            start += seeded.starts.get(role, [])
            for form in await crawl(client, [*start, "/notifications", "/compte"]):
                forms.append((client, form))

        reached: set[str] = set()
        served: set[str] = set()  # the route that answers (others' patterns may match too)
        fuzzed: dict[tuple[str, str], tuple[httpx.AsyncClient, Form]] = {}
        for client, form in forms:
            path = urlsplit(form.action).path
            matched = [p for p, regex in routes if regex.match(path)]
            assert matched, f"a form on {form.page} posts to {path}, which no route serves"
            reached.update(matched)
            served.add(matched[0])
            shape = (matched[0], ",".join(sorted(f.name for f in form.fields)))
            fuzzed.setdefault(shape, (client, form))

        stale = sorted(served & set(EXEMPT))
        assert not stale, f"crawled forms reach these routes: remove them from EXEMPT: {stale}"
        missing = sorted({p for p, _ in routes} - reached - set(EXEMPT))
        assert not missing, (
            "POST routes that no crawled form reaches; make the demo show their form, or add "
            f"them to EXEMPT with a reason: {missing}"
        )

        failures = await fuzz(
            [(route, client, form) for (route, _), (client, form) in sorted(fuzzed.items())]
        )
        assert not failures, "\n".join(failures)
        assert fuzzed, "the crawl found no form at all"


async def fuzz(targets: list[tuple[str, httpx.AsyncClient, Form]]) -> list[str]:
    """Posts every payload to each form; returns what went wrong, in words."""
    failures: list[str] = []
    for route, client, form in targets:
        token = await _token(client, form.page)
        before = await snapshot()
        for kind, data in payloads(form):
            response = await _post(client, form, {**data, "csrf_token": token})
            where = f"{route} ({form.page}) with {kind}"
            if response.status_code >= 500:
                failures.append(f"{where}: {response.status_code}")
            elif response.status_code < 400:
                failures.append(f"{where}: accepted ({response.status_code})")
            elif not FRENCH.search(response.text):
                failures.append(f"{where}: {response.status_code} without a French message")
            elif kind.startswith("NUL seul") and CONTROL_MESSAGE not in response.text:
                failures.append(f"{where}: the form layer's message is not shown")
        written = changed(before, await snapshot())
        if written:
            failures.append(f"{route} ({form.page}): wrote to {written}")
    return failures


LINK = re.compile(r"https?://[^/\s]+(/(?:mot-de-passe|invitations)/[A-Za-z0-9_\-]+)")


async def _mailed_links() -> list[str]:
    from tests.conftest import delivered_mails

    found = []
    for path in await delivered_mails():
        found += LINK.findall(path.read_text(errors="replace").replace("=\n", ""))
    return found


class TestFuzzLinks:
    """The pages opened from an e-mailed link: password reset and invitation acceptance."""

    async def test_pages_opened_from_an_email_refuse_bad_input(
        self, make_client: Any, world: Any
    ) -> None:
        from tests.conftest import login, post_form

        anonymous = make_client()
        await post_form(
            anonymous,
            "/mot-de-passe/oublie",
            {"email": world.tenant.pilot.email},
            "/mot-de-passe/oublie",
        )
        pilot = make_client()
        await login(pilot, world.tenant.pilot.email)
        invitations = f"/c/{world.tenant.slug}/membres"
        response = await post_form(
            pilot,
            f"/c/{world.tenant.slug}/invitations",
            {
                "email": "nouvelle@alpha.example.org",
                "organisation": str(world.tenant.association_id),
                "role": "association_staff",
            },
            invitations,
        )
        assert response.status_code == 303, response.text[:300]
        links = await _mailed_links()
        assert any("/mot-de-passe/" in link for link in links), links
        assert any("/invitations/" in link for link in links), links
        targets = []
        for link in links:
            visitor = make_client()
            for form in await crawl(visitor, [link], limit=1):
                targets.append((link.rsplit("/", 1)[0] + "/{token}", visitor, form))
        assert {t[0] for t in targets} == {"/mot-de-passe/{token}", "/invitations/{token}"}
        failures = await fuzz(targets)
        assert not failures, "\n".join(failures)


async def _second_factor(email: str) -> None:
    """Administrators' pages need a second factor: marked as enrolled here, so the crawl
    reaches their forms without typing TOTP codes (the enrolment has its own tests)."""
    import datetime as dt

    from portal.auth.tables import User

    await User.update({User.totp_confirmed_at: dt.datetime.now(dt.UTC)}).where(User.email == email)


async def _token(client: httpx.AsyncClient, page: str) -> str:
    from tests.conftest import CSRF_RE

    response = await client.get(page)
    match = CSRF_RE.search(response.text)
    return match.group(1) if match else ""


async def _post(client: httpx.AsyncClient, form: Form, data: dict[str, str]) -> httpx.Response:
    if form.multipart:
        files = {"csrf_token": (None, data.pop("csrf_token"))}
        for key, value in data.items():
            files[key] = (None, value)
        return await client.post(form.action, files=files)
    return await client.post(form.action, data=data)
