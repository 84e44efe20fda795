"""Requested documents, uploads, review, versions, downloads and housekeeping.

Item lifecycle:
| from                  | to          | who                         | function         |
|-----------------------|-------------|-----------------------------|------------------|
| -                     | expected    | pilot; scheduler (periods)  | `create_request` |
| expected, to_complete | submitted   | the organisation, the pilot | `upload`         |
| submitted             | validated   | reviewer (`REVIEW_RULE`)    | `review`         |
| submitted             | to_complete | reviewer, with a comment    | `review`         |
| submitted             | expected    | last version deleted        | `delete_version` |
| validated             | -           | final: no deletion, no new version (a new request instead) |

Storing comes before the database row, through the ledger of objects (`portal.objects`):
storage down → nothing in the database; the row's transaction failed → the object is removed;
its outcome unknown → the ledger is asked, and the sweep decides if the database is still away.
A version whose object the sweep finds missing is withdrawn and its item goes back to
« à compléter », with a message to the person who deposited it (`objects_lost`).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio.to_thread

from portal.audit import service as audit
from portal.audit.enums import AuditTag
from portal.auth.service import CurrentUser
from portal.conventions import service as conventions
from portal.core import antivirus, clock, db
from portal.core import periodic as units
from portal.core.actor import SYSTEM, Actor
from portal.core.db import transaction
from portal.core.forms import FieldError, check_date, plausible_date
from portal.core.outage import DatabaseUnavailable, Unavailable
from portal.core.permissions import Role
from portal.core.storage import ObjectMissing, StorageError, get_storage
from portal.core.templating import date_fr
from portal.core.tenancy import TenantContext, TenantScope
from portal.documents import inspect, repository
from portal.documents.enums import ItemStatus, Recurrence
from portal.documents.inspect import FileType
from portal.documents.periods import periods_until
from portal.documents.upload import ReceivedFile as ReceivedFile
from portal.documents.upload import UploadRefused as UploadRefused
from portal.notifications import service as notifications
from portal.objects import service as objects
from portal.reminders.schedule import DueItem
from portal.settings import get_settings
from portal.tenants import service as tenants

log = logging.getLogger("portal.documents")
OWNER = "documents"  # in the ledger of objects (`objects_lost` receives its lost keys)
PRESIGNED_FOR = dt.timedelta(minutes=5)
# Roles that see every organisation's documents. State agents see those of the conventions
# they see (the conventions' rule, `portal.core.visibility`) and those their service asked for;
# others see their own organisation's only.
SEES_ALL = frozenset({Role.PILOT, Role.LESSOR_STAFF, Role.FINANCE, Role.READ_ONLY})


def subject(item_id: uuid.UUID) -> str:
    return f"document:{item_id}"


async def sight(ctx: TenantContext) -> repository.Sight:
    """What the repository filters this member's items by: hidden items are never loaded."""
    if ctx.role in SEES_ALL:
        return repository.ALL
    if ctx.role == Role.STATE_AGENT:
        return repository.Sight(False, ctx.organisation_id, await conventions.reach(ctx))
    return repository.Sight(False, ctx.organisation_id)


async def _item(ctx: TenantContext, item_id: uuid.UUID) -> dict[str, Any] | None:
    return await repository.item(ctx, item_id, await sight(ctx))


@dataclass(frozen=True)
class ReviewRight:
    """See `portal.core.permissions.REVIEW_RULE`."""

    may_review: bool
    own: bool  # deposited by the reviewer's organisation (or the pilot on its behalf)
    may_validate: bool


async def review_right(
    ctx: TenantContext, row: dict[str, Any], versions: list[dict[str, Any]]
) -> ReviewRight:
    may = ctx.role == Role.PILOT
    if ctx.role == Role.STATE_AGENT:
        may = row["requested_by_organisation"] == ctx.organisation_id or (
            row["convention"] is not None
            and (await conventions.reach(ctx)).covers(row["convention"])
        )
    own = row["organisation"] == ctx.organisation_id or (
        bool(versions)
        and versions[0]["uploaded_by"] in await tenants.active_members_of(ctx, ctx.organisation_id)
    )
    return ReviewRight(
        may_review=may,
        own=own,
        may_validate=may and (not own or await tenants.self_review_allowed(ctx)),
    )


def _may_upload(ctx: TenantContext, row: dict[str, Any]) -> bool:
    if row["status"] == ItemStatus.VALIDATED:
        return False  # see `VALIDATED_STAYS`
    return ctx.role == Role.PILOT or row["organisation"] == ctx.organisation_id


# A validation may have released payments: its file stays as it was validated, for everyone.
VALIDATED_STAYS = (
    "Cette pièce a été validée : ses versions ne peuvent plus être supprimées ni remplacées. "
    "Pour la rouvrir, le pilote demande une nouvelle pièce."
)


# Requests and items -----------------------------------------------------------------------


async def create_request(ctx: TenantContext, values: dict[str, Any], today: dt.date) -> uuid.UUID:
    check_date(values.get("due_on"), "due_on")
    check_date(values.get("starts_on"), "starts_on")
    if not await tenants.organisation_in(ctx, values["organisation"]):
        raise FieldError("Choisissez une organisation du consortium.", "organisation")
    if values.get("convention") and not await conventions.open_convention(
        ctx, values["convention"]
    ):
        raise FieldError("Choisissez une convention du consortium.", "convention")
    # Who asked, and under which convention: what a State agent sees and may review follows.
    values = {**values, "requested_by_organisation": ctx.organisation_id}
    async with transaction():
        request_id = await repository.insert_request(ctx, values, ctx.user_id)
        if values["recurrence"] == Recurrence.ONCE:
            await repository.insert_item(
                ctx,
                {
                    "request": request_id,
                    "organisation": values["organisation"],
                    "period_start": values["due_on"],
                    "due_on": values["due_on"],
                    "status": ItemStatus.EXPECTED,
                },
            )
        else:
            await _generate(ctx, {"id": request_id, **values}, today)
    return request_id


async def conventions_to_name(ctx: TenantContext) -> list[dict[str, Any]]:
    """The conventions a request may be asked under (those the member sees)."""
    return await conventions.visible_conventions(ctx)


async def _generate(scope: TenantScope, request: dict[str, Any], today: dt.date) -> int:
    created = 0
    recurrence = Recurrence(request["recurrence"])
    if not plausible_date(request["starts_on"]):
        return 0  # stored before dates were bounded: from year 1026, 4,004 quarters
    for period in periods_until(request["starts_on"], today, recurrence):
        created += await repository.insert_item(
            scope,
            {
                "request": request["id"],
                "organisation": request["organisation"],
                "period_label": period.label,
                "period_start": period.start,
                "due_on": period.end + dt.timedelta(days=request["days_after_period"]),
                "status": ItemStatus.EXPECTED,
            },
        )
    return created


async def generate_items(at: dt.datetime) -> int:
    """The scheduler's part: each new period of a recurring request gets its item (idempotent)."""
    created = 0
    for consortium in await tenants.active_consortia():
        scope = TenantScope.for_platform(
            consortium["id"],
            reason="the scheduler generates each active consortium's periodic items",
        )
        async with units.unit("pièces périodiques", consortium=scope.consortium_id):
            for request in await repository.recurring_requests(scope):
                created += await _generate(scope, request, at.date())
    return created


async def checklist(
    ctx: TenantContext, organisation_id: uuid.UUID | None = None
) -> list[dict[str, Any]]:
    return await repository.items(ctx, organisation_id, await sight(ctx))


@dataclass(frozen=True)
class ItemDetail:
    item: dict[str, Any]
    versions: list[dict[str, Any]]
    may_upload: bool
    review: ReviewRight


async def item_detail(ctx: TenantContext, item_id: uuid.UUID) -> ItemDetail | None:
    row = await _item(ctx, item_id)
    if row is None:
        return None
    versions = await repository.versions(ctx, item_id)
    return ItemDetail(row, versions, _may_upload(ctx, row), await review_right(ctx, row, versions))


# Upload -----------------------------------------------------------------------------------


async def upload(
    actor: Actor,
    ctx: TenantContext,
    user: CurrentUser,
    item_id: uuid.UUID,
    received: ReceivedFile,
) -> int:
    """Stores a new version; returns its number. Raises `UploadRefused` with a French message;
    whatever is refused leaves nothing stored."""
    try:
        row = await _item(ctx, item_id)
        if row is None:
            raise LookupError(item_id)
        if row["status"] == ItemStatus.VALIDATED:
            raise UploadRefused(VALIDATED_STAYS, "versions", status_code=409)
        if not _may_upload(ctx, row):
            raise PermissionError(item_id)
        # pypdf and zipfile read the file: off the event loop.
        file_type = await anyio.to_thread.run_sync(inspect.inspect, received)
        for existing in await repository.versions(ctx, item_id):
            if existing["sha256"] == received.sha256:
                raise UploadRefused(
                    f"Ce fichier est identique à la version {existing['number']} déposée le "
                    f"{existing['uploaded_at']:%d/%m/%Y} : il n'a pas été déposé une seconde fois."
                )
        try:
            await antivirus.scan(received.path)
        except antivirus.ScanRefused as exc:
            raise UploadRefused(exc.message) from exc
        key = f"{ctx.consortium_id}/{uuid.uuid4().hex}"
        values = {
            "item": item_id,
            "filename": inspect.clean_filename(received.filename, file_type),
            "file_type": file_type.code,
            "content_type": file_type.content_type,
            "size": received.size,
            "sha256": received.sha256,
            "storage_key": key,
            "uploaded_by": user.id,
            "uploaded_by_name": user.full_name,
        }
        try:
            number = await _record_version(actor, ctx, key, received, values)
        except StorageError as exc:
            log.error("Stockage indisponible pendant un dépôt : %s", exc)
            raise UploadRefused(
                "Le stockage des documents ne répond pas : votre fichier n'a pas été enregistré. "
                "Réessayez dans quelques minutes.",
                status_code=503,
            ) from exc
        except objects.CommitUnknown as exc:
            raise UploadRefused(exc.message, status_code=503) from exc
        except Exception as exc:
            if not isinstance(exc, DatabaseUnavailable) and not is_unavailable(exc):
                raise
            log.error("Base de données indisponible pendant un dépôt : %s", exc)
            raise UploadRefused(
                "Le dépôt n'a pas pu être enregistré (la base de données ne répond pas) : rien "
                "n'a été conservé. Réessayez dans quelques minutes.",
                status_code=503,
            ) from exc
        return number
    finally:
        received.discard()


def is_unavailable(exc: BaseException) -> bool:
    return isinstance(exc, Unavailable) or db.unavailable(exc)


async def _record_version(
    actor: Actor,
    ctx: TenantContext,
    key: str,
    received: ReceivedFile,
    values: dict[str, Any],
) -> int:
    number = 0
    async with objects.stored(
        key, received.path, values["content_type"], owner=OWNER, consortium_id=ctx.consortium_id
    ) as handle:
        # The item's row lock orders uploads to one item: each gets the next number.
        async with repository.locked_item(ctx, values["item"]):
            number = await repository.next_number(ctx, values["item"])
            await repository.insert_version(ctx, {**values, "number": number})
            await repository.update_item(ctx, values["item"], status=ItemStatus.SUBMITTED)
            await audit.record_action(
                AuditTag.DOCUMENT_UPLOADED,
                actor,
                ctx,
                subject=str(values["item"]),
                number=number,
            )
            await handle.confirm()
    return number


# Review, download, delete -----------------------------------------------------------------


async def review(
    actor: Actor,
    ctx: TenantContext,
    user: CurrentUser,
    item_id: uuid.UUID,
    decision: str,
    comment: str,
) -> None:
    if await _item(ctx, item_id) is None:
        raise LookupError(item_id)
    if decision not in (ItemStatus.VALIDATED, ItemStatus.TO_COMPLETE):
        raise FieldError("Choisissez de valider la pièce ou de la faire compléter.", "decision")
    if decision == ItemStatus.TO_COMPLETE and len(comment.strip()) < 3:
        raise FieldError(
            "Expliquez ce qu'il faut compléter : le commentaire est envoyé au déposant.", "comment"
        )
    status = ItemStatus.VALIDATED if decision == ItemStatus.VALIDATED else ItemStatus.TO_COMPLETE
    # Under the item's row lock: a deposit or a deletion cannot change what is being reviewed.
    async with repository.locked_item(ctx, item_id):
        row = await repository.item(ctx, item_id)
        if row is None or row["status"] != ItemStatus.SUBMITTED:
            raise FieldError(
                "Il n'y a pas de dépôt en attente de revue pour cette pièce.", "decision"
            )
        right = await review_right(ctx, row, await repository.versions(ctx, item_id))
        if not right.may_review:
            raise PermissionError(item_id)
        if status == ItemStatus.VALIDATED and not right.may_validate:
            raise FieldError(
                "Cette pièce a été déposée par votre organisation : elle doit être validée par "
                "une autre organisation (les réglages du consortium ne permettent pas de valider "
                "ses propres pièces). Vous pouvez la faire compléter.",
                "decision",
            )
        self_reviewed = status == ItemStatus.VALIDATED and right.own
        await repository.update_item(
            ctx,
            item_id,
            status=status,
            reviewer_comment=comment.strip(),
            reviewed_by=user.id,
            reviewed_at=clock.now(),
            self_reviewed=self_reviewed,
        )
        await audit.record_action(
            AuditTag.DOCUMENT_REVIEWED,
            actor,
            ctx,
            subject=str(item_id),
            decision=status.value,
            **({"self_review": True} if self_reviewed else {}),
        )


@dataclass(frozen=True)
class Download:
    filename: str
    content_type: str
    size: int
    url: str | None  # presigned URL, or None: stream `chunks`
    chunks: AsyncIterator[bytes] | None


async def download(
    actor: Actor,
    ctx: TenantContext,
    item_id: uuid.UUID,
    version_id: uuid.UUID,
) -> Download:
    if await _item(ctx, item_id) is None:
        raise LookupError(item_id)
    version = await repository.version(ctx, item_id, version_id)
    if version is None:
        raise LookupError(version_id)
    await audit.record_action(
        AuditTag.DOCUMENT_DOWNLOADED,
        actor,
        ctx,
        subject=str(item_id),
        version=version["number"],
    )
    storage = get_storage()
    key = version["storage_key"]
    # Before any header is sent: a missing object or a storage outage gets its own page, not a
    # 200 cut short.
    url = await storage.presigned_url(key, PRESIGNED_FOR, version["filename"])
    if url is not None and not await storage.exists(key):
        raise ObjectMissing(key)
    return Download(
        filename=version["filename"],
        content_type=version["content_type"],
        size=version["size"],
        url=url,
        chunks=None if url else await storage.open(key),
    )


async def delete_version(
    actor: Actor,
    ctx: TenantContext,
    user: CurrentUser,
    item_id: uuid.UUID,
    version_id: uuid.UUID,
) -> None:
    """Soft delete: hidden at once, purged from storage after the retention period."""
    row = await _item(ctx, item_id)
    version = await repository.version(ctx, item_id, version_id)
    if row is None or version is None:
        raise LookupError(version_id)
    if ctx.role != Role.PILOT and version["uploaded_by"] != user.id:
        raise PermissionError(version_id)
    retention = dt.timedelta(days=get_settings().retention_days)
    # Under the item's row lock, as reviews are: a validation cannot slip in between.
    async with repository.locked_item(ctx, item_id):
        current = await repository.item(ctx, item_id)
        if current is None or current["status"] == ItemStatus.VALIDATED:
            raise FieldError(VALIDATED_STAYS, "versions")
        await repository.soft_delete(ctx, version_id, clock.now(), clock.now() + retention)
        if not await repository.versions(ctx, item_id):
            await repository.update_item(ctx, item_id, status=ItemStatus.EXPECTED)
        await audit.record_action(
            AuditTag.DOCUMENT_DELETED,
            actor,
            ctx,
            subject=str(item_id),
            version=version["number"],
        )


# Housekeeping -----------------------------------------------------------------------------


async def purge_deleted(at: dt.datetime) -> int:
    purged = 0
    for row in await repository.due_for_purge(at):
        async with units.unit("purge des pièces supprimées", version=row["id"]):
            await objects.remove(row["storage_key"])
            await repository.mark_purged(row["id"], at)
            purged += 1
    return purged


async def objects_lost(keys: list[str], at: dt.datetime) -> int:
    """Versions whose file the storage lost (found by the sweep of objects): each is withdrawn;
    when it was the item's current file the item goes back to « à compléter »; the person who
    deposited it is told to deposit it again. Returns how many versions were concerned."""
    lost = await repository.versions_with_keys(keys)
    for version in lost:
        async with units.unit(
            "versions perdues", consortium=version["consortium"], version=version["id"]
        ):
            await _object_lost(version, at)
    return len(lost)


async def _object_lost(version: dict[str, Any], at: dt.datetime) -> None:
    scope = TenantScope.for_platform(
        version["consortium"], reason="the sweep of objects found a version whose file is lost"
    )
    item = await repository.item(scope, version["item"])
    if item is None:
        return
    current = await repository.versions(scope, version["item"])
    latest = bool(current) and current[0]["id"] == version["id"]
    comment = (
        f"Le fichier « {version['filename']} » (version {version['number']}, déposé le "
        f"{date_fr(version['uploaded_at'])}) n'a pas été conservé par le stockage du "
        "portail : déposez-le à nouveau."
    )
    found = await tenants.scope_and_consortium(scope.consortium_id)
    slug = found[1]["slug"] if found else ""
    async with transaction():
        await repository.soft_delete(scope, version["id"], at, at)
        if latest:
            await repository.update_item(
                scope,
                version["item"],
                status=ItemStatus.TO_COMPLETE,
                reviewer_comment=comment,
                reviewed_by=None,
                reviewed_at=at,
            )
        await audit.record(
            AuditTag.DOCUMENT_LOST,
            SYSTEM,  # found by the sweep of objects
            consortium_id=scope.consortium_id,
            subject=str(version["item"]),
            version=version["number"],
            storage_key=version["storage_key"],
        )
        await notifications.notify(
            [version["uploaded_by"]],
            kind="document",
            title=f"Fichier à déposer à nouveau : {item['title']}",
            body=comment,
            link=f"/c/{slug}/pieces/{version['item']}",
            subject=subject(version["item"]),
            consortium_id=scope.consortium_id,
            at=at,
        )
    log.error(
        "Version %s de la pièce %s : fichier perdu par le stockage, pièce à compléter",
        version["number"],
        version["item"],
    )


async def due_items(scope: TenantScope) -> list[DueItem]:
    """Expected or to-complete documents as reminder items (the reminder scan's source)."""
    consortium = await tenants.scope_and_consortium(scope.consortium_id)
    slug = consortium[1]["slug"] if consortium else ""
    members: dict[uuid.UUID, list[uuid.UUID]] = {}
    items = []
    for row in await repository.open_items(scope):
        organisation = row["organisation"]
        if organisation not in members:
            members[organisation] = await tenants.active_members_of(scope, organisation)
        label = f"{row['title']} ({row['period_label']})" if row["period_label"] else row["title"]
        items.append(
            DueItem(
                subject=subject(row["id"]),
                title=label,
                due_on=row["due_on"],
                created_on=row["created_at"].date(),
                link=f"/c/{slug}/pieces/{row['id']}",
                recipients=tuple(members[organisation]),
            )
        )
    return items


# For the domains whose steps wait for a validated document (payments) --------------------


async def items_of(scope: TenantScope) -> list[dict[str, Any]]:
    """Every requested document of the consortium, with its status (not a member's view:
    callers filter what they show)."""
    return await repository.items(scope)


async def item_of(scope: TenantScope, item_id: uuid.UUID) -> dict[str, Any] | None:
    return await repository.item(scope, item_id)


async def tie_to_convention(
    scope: TenantScope, item_id: uuid.UUID, convention_id: uuid.UUID
) -> None:
    """A payment under `convention_id` waits for this document: it is then asked for under that
    convention (unless its request names one), so the convention's State agents see it and may
    review it."""
    await repository.tie_request(scope, item_id, convention_id)


def is_validated(item: dict[str, Any]) -> bool:
    return bool(item["status"] == ItemStatus.VALIDATED)


# For the domains that receive files too (conventions' annexes; `web.receive_upload`) --------------


def inspect_file(received: ReceivedFile) -> FileType:
    """The file's real type, after every check an uploaded document passes (blocking: run it
    in a worker thread); `UploadRefused` when refused."""
    return inspect.inspect(received)


def clean_filename(raw: str, file_type: FileType) -> str:
    return inspect.clean_filename(raw, file_type)


async def demo_report(
    ctx: TenantContext,
    organisation: uuid.UUID,
    title: str,
    due: dt.date,
    validated: bool,
    convention: uuid.UUID | None = None,  # asked for under it: its State agents see it
) -> uuid.UUID:
    """For the demo data: a document asked of `organisation`, with its one item (validated or
    still expected)."""
    request_id = await repository.insert_request(
        ctx,
        {
            "organisation": organisation,
            "title": title,
            "recurrence": "once",
            "due_on": due,
            "convention": convention,
        },
        ctx.user_id,
    )
    await repository.insert_item(
        ctx,
        {
            "request": request_id,
            "organisation": organisation,
            "period_start": due,
            "due_on": due,
            "status": "validated" if validated else "expected",
            "reviewer_comment": "Validé en comité de pilotage." if validated else "",
        },
    )
    item = next(i for i in await repository.items(ctx) if i["request"] == request_id)
    return uuid.UUID(str(item["id"]))
