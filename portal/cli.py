"""The `portal` command: serve, migrate, demo, create-admin."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys
from collections.abc import Coroutine
from typing import Any, TypeVar

import portal  # noqa: F401 - sets PICCOLO_CONF before Piccolo is imported

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
    import uvicorn

    from portal.core.db import migrate

    _with_db(migrate())
    uvicorn.run(
        # Composition root: the web app plus its background loop (outbox relay or jobs).
        "workers.web:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=True,
        forwarded_allow_ips=os.environ.get("PORTAL_FORWARDED_ALLOW_IPS", "127.0.0.1"),
        log_level="info",
    )
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from portal import demo
    from portal.core.db import migrate

    async def load() -> list[tuple[str, str, str, str]]:
        await migrate()
        return await demo.load()

    for line in _with_db(load()):
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
    from arq.worker import run_worker

    from portal.core.db import migrate
    from workers.settings import WorkerSettings, redis_settings

    try:
        redis_settings()
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 2
    _with_db(migrate())
    run_worker(WorkerSettings, burst=args.burst)  # type: ignore[arg-type]
    return 0


def main(argv: list[str] | None = None) -> int:
    from portal.settings import SettingsError

    parser = argparse.ArgumentParser(prog="portal", description="Portail des partenariats")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="applique les migrations puis sert le portail")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(func=cmd_serve)

    commands.add_parser("migrate", help="applique les migrations").set_defaults(func=cmd_migrate)
    commands.add_parser("demo", help="charge les données de démonstration").set_defaults(
        func=cmd_demo
    )

    worker = commands.add_parser("worker", help="exécute les tâches de fond (Redis requis)")
    worker.add_argument("--burst", action="store_true", help="s'arrête quand la file est vide")
    worker.set_defaults(func=cmd_worker)

    admin = commands.add_parser("create-admin", help="crée un administrateur de la plateforme")
    admin.add_argument("email")
    admin.add_argument("--name", default="")
    admin.set_defaults(func=cmd_create_admin)

    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except SettingsError as exc:
        print(f"Configuration invalide : {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
