"""Store, then commit, then never guess.

An object is stored before the row that points at it (storage down: nothing in the database).
What happens when the row's transaction fails is decided by the ledger, not guessed:

| step                                  | ledger                   | on failure                  |
|---------------------------------------|--------------------------|-----------------------------|
| `stored()` enters: intent (own commit)| pending                  | nothing stored              |
| object put in storage                 | pending                  | sweep removes it (grace)    |
| row written, `handle.confirm()`       | committed, same commit   | `settle`: rolled back →     |
|                                       |                          | object removed at once      |
| commit answer lost (connection gone)  | committed or pending     | `settle` looks: committed → |
|                                       |                          | success; no answer → sweep  |

`sweep` reconciles both ways: intents never confirmed (their object is removed), objects no
entry knows (removed), and committed entries whose object is missing (reported on `/admin` and
in `/healthz`, handed to their domain). Reading does not go through the ledger.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from portal.core import clock, db, spool
from portal.core.outage import DatabaseUnavailable
from portal.core.storage import StorageError, get_storage
from portal.objects import repository
from portal.objects.enums import ObjectState, Settled
from portal.settings import get_settings

log = logging.getLogger("portal.objects")
Row = dict[str, Any]


class CommitUnknown(DatabaseUnavailable):
    """The database failed while committing and could not be asked whether it did."""

    default_message = (
        "La base de données ne répond plus : l'enregistrement n'a peut-être pas abouti. "
        "Vérifiez dans quelques minutes s'il apparaît ; sinon recommencez."
    )


@dataclass
class Handle:
    key: str
    confirmed: bool = False

    async def confirm(self) -> None:
        """Inside the transaction that writes the row pointing at the object."""
        if not db.in_transaction():
            raise RuntimeError("confirm() belongs inside the row's transaction")
        if not await repository.confirm(self.key, clock.now()):
            # The sweep gave up on it meanwhile (it had waited past the grace): start again.
            raise StorageError(f"{self.key} a été retiré entre-temps")
        self.confirmed = True


async def store(
    key: str, path: Path, content_type: str, *, owner: str, consortium_id: uuid.UUID | None
) -> None:
    """Records the intent (committed on its own), then stores the object. Raises
    `StorageError`: the intent stays, and the sweep removes whatever may have landed."""
    if db.in_transaction():
        raise RuntimeError("objects.store() must run outside a transaction")
    size = (await anyio.Path(path).stat()).st_size
    await repository.insert_intent(key, owner, consortium_id, size, clock.now())
    await get_storage().put_file(key, path, content_type)


@contextlib.asynccontextmanager
async def stored(
    key: str,
    path: Path,
    content_type: str,
    *,
    owner: str,
    consortium_id: uuid.UUID | None = None,
) -> AsyncIterator[Handle]:
    """Stores the object, then runs the caller's block, which writes the row and calls
    `handle.confirm()` in the same transaction. When the block fails, the ledger decides: the
    object is removed if the row was not committed; if it was (only the commit's answer was
    lost), the failure is swallowed, since the work is done. A block that returns without
    confirming (it decided not to keep the object) gets it removed too."""
    await store(key, path, content_type, owner=owner, consortium_id=consortium_id)
    handle = Handle(key)
    try:
        yield handle
    except Exception as exc:
        outcome = await settle(key)
        if outcome is Settled.COMMITTED and handle.confirmed:
            log.warning("Échec signalé après l'enregistrement de %s, pourtant fait : %r", key, exc)
            return
        if outcome is Settled.UNKNOWN and handle.confirmed:
            # Failed at or after the commit: it may have gone through.
            raise CommitUnknown(f"{key}: {exc!r}") from exc
        raise
    except BaseException:  # cancelled: never swallowed
        await settle(key)
        raise
    if not handle.confirmed:
        await settle(key)


@contextlib.asynccontextmanager
async def stored_bytes(
    key: str,
    data: bytes,
    content_type: str,
    *,
    owner: str,
    consortium_id: uuid.UUID | None = None,
) -> AsyncIterator[Handle]:
    """`stored` for bytes in memory (a rendered or signed PDF): spooled to a file first."""
    with spool.temporary_file() as handle:
        try:
            handle.write(data)
            handle.flush()
        except OSError as exc:
            raise spool.unavailable(exc, handle.name) from exc
        async with stored(
            key, Path(handle.name), content_type, owner=owner, consortium_id=consortium_id
        ) as confirmation:
            yield confirmation


async def settle(key: str, before: dt.datetime | None = None) -> Settled:
    """After a transaction that may not have committed: is a row pointing at `key`? (`before`:
    the sweep's cut-off, so an intent recorded again meanwhile is left alone.)"""
    try:
        abandoned = await repository.abandon(key, before)
        if not abandoned:
            found = await repository.state(key)
            if found in (ObjectState.COMMITTED, ObjectState.MISSING):
                return Settled.COMMITTED
            if found is ObjectState.PENDING:
                return Settled.UNKNOWN  # recorded again since the cut-off: not ours to judge
    except Exception as exc:  # the database is still away: the sweep will decide
        log.warning("Sort de %s inconnu (base injoignable : %s) : laissé au nettoyage", key, exc)
        return Settled.UNKNOWN
    try:
        await get_storage().delete(key)
    except StorageError as exc:
        log.warning("Objet %s non retiré (%s) : le nettoyage s'en chargera", key, exc)
    return Settled.REMOVED


async def remove(key: str) -> None:
    """Deletes an object the domain no longer needs (purge after retention, old exports)."""
    await get_storage().delete(key)
    await repository.forget(key)


# The sweep --------------------------------------------------------------------------------


@dataclass
class SweepReport:
    abandoned: int = 0  # intents never confirmed: their object was removed
    strays: int = 0  # objects no entry knew: removed
    newly_missing: list[Row] = field(default_factory=list)  # committed, object gone
    found_again: int = 0


async def sweep(at: dt.datetime) -> SweepReport:
    """Idempotent; run by the periodic task. Acts only on what a successful listing shows:
    storage unreachable raises `StorageError` and nothing is concluded."""
    report = SweepReport()
    grace = dt.timedelta(seconds=get_settings().orphan_grace_seconds)
    for key in await repository.pending_before(at - grace):
        if await settle(key, at - grace) is Settled.REMOVED:
            report.abandoned += 1
    storage = get_storage()
    listed_at = clock.now()
    objects = await storage.list("")
    present = {o.key for o in objects}
    old = [o.key for o in objects if at - o.modified > grace]
    for start in range(0, len(old), 500):
        batch = old[start : start + 500]
        known = await repository.known(batch)
        for key in batch:
            if key not in known:
                await storage.delete(key)
                report.strays += 1
    async for rows in repository.kept(listed_at):
        for row in rows:
            here = row["key"] in present
            if row["state"] == ObjectState.MISSING and (here or await storage.exists(row["key"])):
                await repository.mark_found(row["key"])
                report.found_again += 1
            elif row["state"] == ObjectState.COMMITTED and not here:
                # A listing is a snapshot; ask for the object itself before concluding.
                if not await storage.exists(row["key"]):
                    marked = await repository.mark_missing(row["key"], at)
                    if marked:
                        report.newly_missing.append(marked)
    if report.abandoned or report.strays or report.newly_missing or report.found_again:
        log.warning(
            "Stockage : %s objet(s) jamais confirmé(s) retiré(s), %s objet(s) inconnu(s) "
            "retiré(s), %s objet(s) manquant(s), %s retrouvé(s)",
            report.abandoned,
            report.strays,
            len(report.newly_missing),
            report.found_again,
        )
    for row in report.newly_missing:
        log.error("Objet manquant dans le stockage : %s (%s)", row["key"], row["owner"])
    return report


async def missing() -> list[Row]:
    return await repository.missing()


async def missing_keys(owner: str) -> list[str]:
    """Every key of `owner` the storage lost, for the domain to act on (idempotently)."""
    return await repository.missing_keys(owner)


async def missing_count() -> int:
    return await repository.missing_count()
