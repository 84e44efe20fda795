"""The `portal` command: serve, migrate, demo, create-admin, worker, housekeeping, verify,
signing-audit."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import portal  # noqa: F401 - sets PICCOLO_CONF before Piccolo is imported
from portal.core import clock

T = TypeVar("T")


def _with_db(coro: Coroutine[Any, Any, T]) -> T:
    """Runs `coro` with the database pool open (PostgreSQL), closed afterwards."""
    from portal.core import db

    async def run() -> T:
        await db.start()
        try:
            return await coro
        finally:
            await db.stop()

    return asyncio.run(run())


def cmd_migrate(args: argparse.Namespace) -> int:
    from portal.core.db import migrate

    _with_db(migrate())
    print("Base de données à jour.")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from portal.core.db import migrate
    from portal.settings import get_settings

    _with_db(migrate())
    config = uvicorn.Config(
        # Composition root: the web app plus its background loop (outbox relay or jobs).
        "workers.web:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("PORTAL_FORWARDED_ALLOW_IPS", "127.0.0.1"),
        # Our logging set-up (portal.core.logs) formats uvicorn's lines too.
        log_config=None,
        log_level=get_settings().log_level.lower(),
    )
    # With --fd, a socket already bound and listening, inherited from whoever started us (a
    # process manager, or a test that keeps its port from the bind to the end). uvicorn's own
    # `fd` option reads every descriptor as a Unix socket: the family comes from the descriptor.
    listening = config.bind_socket() if args.fd is None else socket.socket(fileno=args.fd)
    if args.workers > 1:
        Multiprocess(config, sockets=[listening]).run()
        return 0
    server = uvicorn.Server(config)
    server.run(sockets=[listening])
    return 0 if server.started else 3  # as uvicorn.run: 3 when the app failed to start


def cmd_demo(args: argparse.Namespace) -> int:
    from portal import demo
    from portal.core.db import migrate

    async def load() -> list[tuple[str, str, str, str]]:
        await demo.check_dependencies()  # before anything is written
        await migrate()
        return await demo.load()

    from portal.core.db import unavailable

    try:
        lines = _with_db(load())
    except demo.NotReady as exc:
        print(exc.message, file=sys.stderr)
        return 3
    except Exception as exc:
        if not unavailable(exc):
            raise
        print(f"La base de données ne répond pas ({exc}) : rien n'a été chargé.", file=sys.stderr)
        return 3
    for line in lines:
        print(" ".join(line))
    return 0


def cmd_create_admin(args: argparse.Namespace) -> int:
    from portal.auth.service import AuthError, create_admin
    from portal.core.db import migrate

    password = os.environ.get("PORTAL_ADMIN_PASSWORD") or getpass.getpass(
        "Mot de passe (12 caractères au moins) : "
    )

    async def create() -> None:
        await migrate()
        await create_admin(args.email, args.name or args.email, password)

    try:
        _with_db(create())
    except AuthError as exc:
        print(exc.message, file=sys.stderr)
        return 2
    print(f"Administrateur de la plateforme : {args.email}")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from portal.settings import WORKER_NEEDS_REDIS, get_settings

    # Before the worker's imports (every job handler, pyhanko among them: seconds on a small
    # machine): a missing setting is said at once.
    if not get_settings().redis_url:
        print(WORKER_NEEDS_REDIS, file=sys.stderr)
        return 2
    from workers import worker

    return worker.run(burst=args.burst)


def cmd_housekeeping(args: argparse.Namespace) -> int:
    """The periodic work, once, now (what the scheduler runs every 15 minutes)."""

    from workers.schedule import periodic

    failed = _with_db(periodic(clock.now()))
    print(f"Entretien terminé : {failed} étape(s) en échec." if failed else "Entretien terminé.")
    return 1 if failed else 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Exit 0 only when every signature is intact and valid and the file was not altered."""
    from pathlib import Path

    from portal.core.templating import datetime_fr
    from portal.signing import verification
    from portal.signing.pades.errors import PadesError

    try:
        data = Path(args.file).read_bytes()
        verdict = _with_db(verification.verify(data))
    except OSError as exc:
        print(f"Lecture impossible : {exc}", file=sys.stderr)
        return 2
    except PadesError as exc:
        print(exc.message, file=sys.stderr)
        return 1
    if not verdict.reports:
        print("Aucune signature dans ce fichier.")
    for n, r in enumerate(verdict.reports, 1):
        state = "intacte" if r.intact else "ALTÉRÉE"
        validity = "valide" if r.valid else "INVALIDE"
        when = (
            datetime_fr(r.timestamp_at or r.signed_at) if (r.timestamp_at or r.signed_at) else "—"
        )
        whole = (
            "couvre tout le fichier"
            if r.covers_whole_document
            else "ne couvre pas la fin du fichier"
        )
        kind = (
            "horodatage du document" if r.is_document_timestamp else f"signature de {r.signer_name}"
        )
        print(
            f"{n}. {kind} ({r.certificate_subject}), {when} : {state}, {validity}, {whole}, "
            f"modifications ultérieures : {r.modification_level}"
        )
    print(verdict.match)
    print("Résultat : fichier valide." if verdict.ok else "Résultat : fichier NON VALIDE.")
    return 0 if verdict.ok else 1


def cmd_signing_audit(args: argparse.Namespace) -> int:
    """Recomputes every signature request's audit chain; exit 1 at the first broken link."""
    from portal.core.scope import consortium_scope, platform_scope
    from portal.core.tenancy import TenantScope
    from portal.signing import chain, repository

    async def check() -> list[str]:
        broken = []
        async with platform_scope("the operator checks the audit chains of every consortium"):
            requests = await repository.all_request_ids()
        for consortium, request_id in requests:
            scope = TenantScope.for_platform(consortium, reason="the operator checks every chain")
            async with consortium_scope(consortium):
                found = await chain.check(scope, request_id)
            if found is not None:
                broken.append(f"demande {request_id} : maillon {found.seq} rompu ({found.reason})")
        return broken

    problems = _with_db(check())
    for line in problems:
        print(line)
    print(
        "Journaux de signature intacts."
        if not problems
        else f"{len(problems)} journal(aux) rompu(s)."
    )
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    from portal.settings import SettingsError, get_settings

    parser = argparse.ArgumentParser(prog="portal", description="Portail des partenariats")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="applique les migrations puis sert le portail")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--fd", type=int, help="sert sur ce descripteur, une socket déjà ouverte et en écoute"
    )
    serve.set_defaults(func=cmd_serve)

    commands.add_parser("migrate", help="applique les migrations").set_defaults(func=cmd_migrate)
    commands.add_parser("demo", help="charge les données de démonstration").set_defaults(
        func=cmd_demo
    )

    worker = commands.add_parser("worker", help="exécute les tâches de fond (Redis requis)")
    worker.add_argument("--burst", action="store_true", help="s'arrête quand la file est vide")
    worker.set_defaults(func=cmd_worker)
    commands.add_parser(
        "housekeeping", help="lance maintenant l'entretien périodique (rappels, stockage…)"
    ).set_defaults(func=cmd_housekeeping)

    admin = commands.add_parser("create-admin", help="crée un administrateur de la plateforme")
    admin.add_argument("email")
    admin.add_argument("--name", default="")
    admin.set_defaults(func=cmd_create_admin)

    verify = commands.add_parser("verify", help="vérifie les signatures d'un PDF")
    verify.add_argument("file")
    verify.set_defaults(func=cmd_verify)
    commands.add_parser(
        "signing-audit", help="vérifie la chaîne des journaux de signature"
    ).set_defaults(func=cmd_signing_audit)

    args = parser.parse_args(argv)
    try:
        from portal.core import logs

        logs.configure(get_settings().log_level)
        return int(args.func(args))
    except SettingsError as exc:
        print(f"Configuration invalide : {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
