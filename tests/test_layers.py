"""Meta-test: the layers, read from the imports of `portal/` (every import, lazy ones too).

1. A module of domain X imports of another domain Y only:
   - `Y.service`, the one door of a domain (thin wrappers there are fine);
   - `Y.enums`: `StrEnum`s with stable codes and French labels, nothing else. A code crosses
     domains as a plain value (a payment line names the convention's `Funder`), and one enum
     per concept is better than a copy per domain;
   - `Y.tables` from X's own `tables.py`, for foreign keys (see rule 3);
   - `Y.web` from X's web layer only (rule 6): the HTTP helpers a domain lends other domains'
     pages (`auth.web.log_in` opens a session, `conventions.web.on_convention` loads the
     convention of the path, `documents.web.receive_upload` reads an upload). They take the
     request, so they cannot be in the service.
   Other value types a domain hands out (`Opened`, `ReceivedFile`...) are re-exported by its
   service. `reminders.schedule` is the one shared module besides these: the due-item and policy
   value types and the date arithmetic of reminders, which the domains that have due dates
   produce and `reminders.service` collects (it imports their services, so they cannot import
   it back). It may import nothing of the portal, which this test checks too.
2. A route module (`routes.py`, `*_routes.py`) does not import its own domain's `repository`:
   routes parse, call one service, render or redirect.
3. Only `repository.py`, `tables.py`, `piccolo_app.py` and migrations import a `tables`
   module (across domains only `tables.py`, by rule 1), wherever the importer lives.
4. `portal` never imports `workers`, except `portal/cli.py`: the `portal` command is the
   composition root that starts the worker and runs the periodic work (as `portal serve`
   names `workers.web:create_app`).
5. `portal/core/` imports no domain, nor the modules that compose them: what a page's layout
   shows of the domains (switcher, unread count) is given to it by the app; the tenant
   middleware, which asks the tenants domain, lives there.
6. Services take an actor (`portal.core.actor.Actor`: who, which organisation, address, user
   agent), never the Starlette request: outside its web layer, no module of a domain imports
   `starlette.requests` or has a parameter annotated `Request`, `HTTPConnection` or `WebSocket`.
   So services are called the same way from a page, a job or a command. A domain's web layer
   is its route modules, `middleware.py`, `web.py` (rule 1) and `pages.py` (what the pages of
   a domain share); everything else (`service.py`, the modules a service is split into,
   `jobs.py`, `demo.py`...) is its domain side. Cookies, redirects, route decorators and
   reading a request body belong to the web layer.

A domain is a package directly under `portal/`, `core` aside (shared machinery, no business
rule). The modules at the top of `portal/` (app, cli, demo...) compose the domains: only rules 3
and 4 apply to them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PORTAL = ROOT / "portal"
SHARED = {"service", "enums"}
VALUE_MODULES = {("reminders", "schedule")}
TABLE_LAYER = {"repository.py", "tables.py", "piccolo_app.py"}
WEB_LAYER = {"routes.py", "middleware.py", "web.py", "pages.py"}  # and `*_routes.py`: rule 6
WEB_SHARED = "web"  # what a domain's web layer may import of another's: rule 1
REQUEST_TYPES = {"Request", "HTTPConnection", "WebSocket"}
COMPOSITION_ROOTS = {"portal/cli.py"}  # may import `workers`, see rule 4


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _module_of(relpath: str) -> str:
    return relpath.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def imported_modules(source: str, relpath: str) -> list[tuple[int, str]]:
    """(line, dotted module) for each import; `from a import b` counts as `a.b` when b is a
    module."""
    found = []
    package = _module_of(relpath)
    if not relpath.endswith("__init__.py"):
        package = package.rpartition(".")[0]
    for node in ast.walk(ast.parse(source, relpath)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                dotted = f"{base}.{alias.name}"
                found.append((node.lineno, dotted if _is_module(dotted) else base))
    return sorted(set(found))


def is_web_layer(filename: str) -> bool:
    return filename in WEB_LAYER or filename.endswith("_routes.py")


def _annotation_names(node: ast.expr | None) -> set[str]:
    """The names an annotation mentions, string (forward) annotations included."""
    if node is None:
        return set()
    found = set()
    for part in ast.walk(node):
        if isinstance(part, ast.Name):
            found.add(part.id)
        elif isinstance(part, ast.Attribute):
            found.add(part.attr)
        elif isinstance(part, ast.Constant) and isinstance(part.value, str):
            try:
                found |= _annotation_names(ast.parse(part.value, mode="eval").body)
            except SyntaxError:
                pass
    return found


def request_parameters(source: str, relpath: str) -> list[str]:
    """Rule 6: the parameters annotated with a Starlette request type."""
    found = []
    for node in ast.walk(ast.parse(source, relpath)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            args = node.args
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
            for arg in every:
                if arg is not None and _annotation_names(arg.annotation) & REQUEST_TYPES:
                    found.append(
                        f"{relpath}:{arg.lineno}: {node.name}({arg.arg}) takes the request "
                        "(services take an actor)"
                    )
    return found


def _domain(parts: list[str]) -> str | None:
    """The domain of `portal.<domain>...` (module name parts), None for top-level modules."""
    if len(parts) < 2 or parts[0] != "portal" or parts[1] == "core":
        return None
    return parts[1] if (PORTAL / parts[1] / "__init__.py").is_file() else None


def violations(source: str, relpath: str) -> list[str]:
    """What breaks the layers in one file of the tree (`relpath` from the repository root)."""
    own_parts = _module_of(relpath).split(".")
    own = _domain(own_parts)
    filename = relpath.rsplit("/", 1)[-1]
    migration = "piccolo_migrations" in own_parts
    in_core = own_parts[:2] == ["portal", "core"]
    domain_side = own is not None and not migration and not is_web_layer(filename)
    found = request_parameters(source, relpath) if domain_side else []
    for line, dotted in imported_modules(source, relpath):
        parts = dotted.split(".")
        where = f"{relpath}:{line}: imports {dotted}"
        if domain_side and dotted.split(".")[:2] == ["starlette", "requests"]:
            found.append(f"{where} (services take an actor, not the request)")
        if in_core and parts[0] == "portal" and parts[1:2] not in (["core"], ["settings"]):
            found.append(f"{where} (core imports no domain)")
        if parts[0] == "workers" and relpath not in COMPOSITION_ROOTS:
            found.append(f"{where} (portal never imports workers)")
        target = _domain(parts)
        if target is None:
            continue
        sub = parts[2] if len(parts) > 2 else ""
        if sub == "tables" and filename not in TABLE_LAYER and not migration:
            found.append(f"{where} (only repositories, tables and migrations import tables)")
        if own is None or migration:
            continue
        if target != own:
            allowed = (
                sub in SHARED
                or (sub == "tables" and filename == "tables.py")
                or (sub == WEB_SHARED and is_web_layer(filename))
            )
            if not allowed and (target, sub) not in VALUE_MODULES:
                found.append(f"{where} (another domain: through its service)")
        elif sub == "repository" and (filename == "routes.py" or filename.endswith("_routes.py")):
            found.append(f"{where} (routes go through their service)")
    if tuple(own_parts[1:]) in VALUE_MODULES:
        found += [
            f"{relpath}:{line}: imports {dotted} (a shared value module imports no portal module)"
            for line, dotted in imported_modules(source, relpath)
            if dotted.split(".")[0] == "portal"
        ]
    return found


def _tree() -> list[tuple[str, str]]:
    return [
        (str(path.relative_to(ROOT)), path.read_text(encoding="utf-8"))
        for path in sorted(PORTAL.rglob("*.py"))
    ]


class TestTheRulesCatchViolations:
    @pytest.mark.parametrize(
        ("relpath", "source", "reason"),
        [
            (
                "portal/signing/apply.py",
                "from portal.conventions import repository as conventions",
                "another domain",
            ),
            (
                "portal/signing/apply.py",
                "def f():\n    from portal.conventions.versions import mark_signed",
                "another domain",
            ),
            ("portal/tenants/routes.py", "import portal.signing.repository", "another domain"),
            ("portal/payments/routes.py", "from . import repository", "routes go through"),
            (
                "portal/payments/line_routes.py",
                "from portal.payments.repository import LineFilter",
                "routes go through",
            ),
            ("portal/payments/service.py", "from portal.payments import tables", "import tables"),
            ("portal/demo.py", "from portal.conventions.tables import Convention", "import tables"),
            ("portal/app.py", "from workers import web", "never imports workers"),
            (
                "portal/core/templating.py",
                "def f():\n    from portal.tenants.service import consortia_for_switcher",
                "core imports no domain",
            ),
            ("portal/core/tenancy.py", "from portal import app", "core imports no domain"),
            (
                "portal/reminders/schedule.py",
                "from portal.core.db import transaction",
                "shared value module",
            ),
            (
                "portal/signing/requests.py",
                "from portal.conventions.web import on_convention",
                "another domain",
            ),
            ("portal/payments/service.py", "from starlette.requests import Request", "an actor"),
            (
                "portal/conventions/editing.py",
                "def f():\n    from starlette.requests import HTTPConnection",
                "an actor",
            ),
            (
                "portal/tenants/service.py",
                "async def invite(request: 'Request | None', values: dict) -> None: ...",
                "invite(request) takes the request",
            ),
            (
                "portal/signing/pades/fields.py",
                "import starlette\ndef f(*, r: starlette.requests.Request) -> None: ...",
                "f(r) takes the request",
            ),
        ],
    )
    def test_a_synthetic_violation_is_reported(
        self, relpath: str, source: str, reason: str
    ) -> None:
        [found] = violations(source, relpath)
        assert reason in found

    @pytest.mark.parametrize(
        ("relpath", "source"),
        [
            ("portal/signing/requests.py", "from portal.conventions.service import Opened"),
            ("portal/payments/forms.py", "from portal.conventions.enums import Funder"),
            ("portal/signing/tables.py", "from portal.conventions.tables import Convention"),
            ("portal/payments/service.py", "from portal.payments import repository"),
            ("portal/deadlines/service.py", "from portal.reminders.schedule import DueItem"),
            ("portal/cli.py", "from workers import worker"),
            ("portal/app.py", "from portal.conventions import routes"),
            ("portal/core/forms.py", "from portal.core.money import parse_cents"),
            ("portal/core/security.py", "from portal.settings import get_settings"),
            ("portal/signing/routes.py", "from portal.conventions.web import on_convention"),
            ("portal/tenants/routes.py", "from portal.auth import web"),
            ("portal/payments/pages.py", "from starlette.requests import Request"),
            ("portal/auth/middleware.py", "from starlette.requests import HTTPConnection"),
            ("portal/conventions/web.py", "def opened_for(request: Request) -> None: ..."),
            ("portal/core/actor.py", "from starlette.requests import HTTPConnection"),
            ("portal/pages.py", "async def dashboard(request: Request) -> None: ..."),
            ("portal/payments/service.py", "from portal.core.actor import Actor"),
        ],
    )
    def test_what_the_layers_allow_passes(self, relpath: str, source: str) -> None:
        assert violations(source, relpath) == []


class TestTheTreeKeepsTheLayers:
    def test_the_tree_is_read(self) -> None:
        names = {relpath for relpath, _ in _tree()}
        assert {"portal/conventions/service.py", "portal/signing/routes.py"} <= names

    def test_the_web_layer_is_where_the_request_is_read(self) -> None:
        names = {relpath for relpath, _ in _tree()}
        web = {n for n in names if is_web_layer(n.rsplit("/", 1)[-1])}
        assert {"portal/auth/web.py", "portal/documents/routes.py"} <= web
        assert not {"portal/auth/service.py", "portal/documents/upload.py"} & web

    def test_no_import_breaks_the_layers(self) -> None:
        found = [v for relpath, source in _tree() for v in violations(source, relpath)]
        assert found == [], "\n".join(found)


class TestWhatStartingLoads:
    def test_the_web_app_and_the_commands_start_without_the_pdf_signing_library(self) -> None:
        """pyHanko (with aiohttp and asn1crypto) was 0.4 s of CPU and 18 MiB in every process
        started: each web process, each `portal housekeeping` run by cron, each `portal
        create-admin`. It is loaded by the first signature, seal or check (`signing/seals.py`)."""
        import subprocess
        import sys

        heavy = ("pyhanko", "pyhanko_certvalidator", "aiohttp", "asn1crypto")
        probe = (
            "import sys, portal.app, portal.cli, workers.handlers, workers.schedule\n"
            f"print(' '.join(m for m in {heavy!r} if m in sys.modules))"
        )
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, check=True
        )
        assert done.stdout.split() == []
