"""The signer's side, reached by the e-mailed link (with or without an account): read the
document, receive a 6-digit code by e-mail, consent, choose a mark, sign (or approve); decline
with a reason; delegate to a colleague; upload a signature made in one's own tool.

The link's token names the participant and, through it, the consortium: every later query is
scoped to that consortium. Out-of-turn actions are refused by the server whatever the page
showed (a forwarded link included).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import secrets
import uuid
from typing import Any

from portal.core import clock, mail, security
from portal.core.forms import FieldError
from portal.core.scope import platform_scope
from portal.core.templating import datetime_fr
from portal.core.tenancy import TenantScope
from portal.settings import get_settings
from portal.signing import chain, files, jobs, keys, repository, requests, workflow
from portal.signing.chain import Audit
from portal.signing.enums import (
    EventKind,
    ParticipantRole,
    ParticipantStatus,
    RequestStatus,
    RevisionKind,
)
from portal.signing.forms import Mark
from portal.signing.pades.errors import PadesError
from portal.signing.repository import Row
from portal.tenants import service as tenants

CODE_LIFETIME = dt.timedelta(minutes=10)
CODE_TRIES = 5
CODE_INTERVAL = dt.timedelta(seconds=30)  # between two codes, against mail flooding
# Codes one link may ask for, counted from the audit trail (so every web process agrees):
# (window, at most). Past them the link waits, and the pilot hears of it once per lock-out.
CODE_CAPS = ((dt.timedelta(hours=1), 5), (dt.timedelta(days=1), 10))


class NotYourTurn(FieldError):
    pass


class TooManyCodes(FieldError):
    pass


@dataclasses.dataclass
class Ceremony:
    scope: TenantScope
    participant: Row
    request: Row
    convention: Row
    consortium_name: str
    slug: str
    people: list[Row]
    latest: Row
    waiting_for_timestamp: bool = False  # the time-stamping authority is not answering

    @property
    def status(self) -> ParticipantStatus:
        return ParticipantStatus(self.participant["status"])

    @property
    def active(self) -> bool:
        return bool(self.request["status"] == RequestStatus.ACTIVE)

    @property
    def my_turn(self) -> bool:
        return (
            self.active
            and self.status == ParticipantStatus.PENDING
            and self.participant["step"] == self.request["current_step"]
        )

    @property
    def external(self) -> bool:
        return self.participant["step"] in (self.request["external_steps"] or [])

    @property
    def code_valid(self) -> bool:
        expires = self.participant["code_expires_at"]
        return bool(self.participant["code_hash"]) and expires is not None and expires > clock.now()

    @property
    def tries_left(self) -> int:
        return CODE_TRIES - int(self.participant["code_failures"])


async def link_consortium(token: str) -> uuid.UUID | None:
    """The consortium a signing link belongs to: its pages run in that consortium's scope."""
    if not token or len(token) > 200:
        return None
    async with platform_scope("a signing link is followed before its consortium is known"):
        participant = await repository.participant_by_token_hash(security.token_hash(token))
    return participant["consortium"] if participant else None


async def load(token: str) -> Ceremony | None:
    """None for a link that leads to no signature (every page and action answers 404): an
    unknown token, a replaced or delegated participant, a cancelled or expired request (past
    its date even before the scan closes it). A completed or declined request's links stay
    readable: the parties download the signed document through them."""
    if not token or len(token) > 200:
        return None
    participant = await repository.participant_by_token_hash(security.token_hash(token))
    if participant is None or not hmac.compare_digest(workflow.token_for(participant), token):
        return None
    scope = TenantScope.for_platform(
        participant["consortium"], reason="a signing link names its participant"
    )
    req = await repository.request(scope, participant["request"])
    if req is None or not workflow.link_alive(participant, req, clock.now()):
        return None
    found = await tenants.scope_and_consortium(scope.consortium_id)
    from portal.conventions import service as conventions

    convention = await conventions.convention_of(scope, req["convention"]) if req else None
    latest = await repository.latest_revision(scope, participant["request"])
    if req is None or convention is None or found is None or latest is None:
        return None
    last = await repository.last_event(scope, req["id"])
    return Ceremony(
        scope=scope,
        participant=participant,
        request=req,
        convention=convention,
        consortium_name=found[1]["name"],
        slug=found[1]["slug"],
        people=await repository.participants(scope, req["id"]),
        latest=latest,
        waiting_for_timestamp=last is not None and last["kind"] == EventKind.TIMESTAMP_PENDING,
    )


async def record_opening(c: Ceremony, audit: Audit) -> None:
    if c.participant["opened_at"] is not None or not c.active:
        return
    async with repository.locked(c.scope, c.request["id"]):
        await repository.update_participant(
            c.scope, c.participant["id"], {"opened_at": clock.now()}
        )
        await chain.append(
            c.scope,
            c.request["id"],
            EventKind.OPENED,
            audit=audit,
            participant=c.participant["id"],
            document_sha256=c.latest["sha256"],
        )


def _code_hash(participant_id: uuid.UUID, code: str) -> str:
    return security.sign(get_settings().secret_key, f"code:{participant_id}:{code}")[:64]


def _require_turn(c: Ceremony) -> None:
    if not c.active:
        raise FieldError(
            f"Cette demande de signature est close "
            f"({RequestStatus(c.request['status']).label.lower()}).",
            "code",
        )
    if c.status.gone:
        raise FieldError(
            "Ce lien n'est plus valable : une autre personne signe à votre place.", "code"
        )
    if c.status != ParticipantStatus.PENDING or c.participant["step"] != c.request["current_step"]:
        if c.status.done or c.status == ParticipantStatus.SUBMITTED:
            raise FieldError("Vous avez déjà signé ce document.", "code")
        raise NotYourTurn(
            f"Ce n'est pas encore votre tour : l'étape {c.request['current_step']} doit d'abord "
            "être terminée. Vous recevrez un e-mail quand ce sera à vous.",
            "code",
        )


def code_retry_at(sent: list[dt.datetime], at: dt.datetime) -> dt.datetime | None:
    """When a link that was sent codes at `sent` (oldest first) may ask again; None: now."""
    waits = []
    for window, most in CODE_CAPS:
        inside = [t for t in sent if t > at - window]
        if len(inside) >= most:
            # The wait ends when enough of the codes in the window have left it.
            waits.append(inside[len(inside) - most] + window)
    return max(waits) if waits else None


def _too_many(retry: dt.datetime) -> TooManyCodes:
    return TooManyCodes(
        "Vous avez demandé trop de codes : au plus 5 par heure et 10 par jour. Vous pourrez "
        f"en demander un nouveau le {datetime_fr(retry)}. Le pilote de la demande est "
        "prévenu.",
        "code",
    )


async def codes_blocked_until(c: Ceremony) -> dt.datetime | None:
    at = clock.now().astimezone(dt.UTC)
    window = max(w for w, _ in CODE_CAPS)
    recent = await repository.code_events(c.scope, c.participant["id"], at - window)
    return code_retry_at([e["at"] for e in recent if e["kind"] == EventKind.CODE_SENT], at)


async def _lock_out(c: Ceremony, recent: list[Row], retry: dt.datetime, audit: Audit) -> None:
    """Inside `repository.locked`: one audit event and one word to the pilot per lock-out,
    however many times the link asks meanwhile."""
    last_sent = max(e["at"] for e in recent if e["kind"] == EventKind.CODE_SENT)
    if any(e["kind"] == EventKind.CODE_CAPPED and e["at"] >= last_sent for e in recent):
        return
    await chain.append(
        c.scope,
        c.request["id"],
        EventKind.CODE_CAPPED,
        audit=audit,
        participant=c.participant["id"],
        document_sha256=c.latest["sha256"],
        details={"retry_at": retry.isoformat()},
        at=clock.now().astimezone(dt.UTC),
    )
    name = c.participant["name"]
    await workflow.tell_pilots(
        c.scope,
        c.request,
        f"{name} a demandé trop de codes de signature",
        f"Convention « {c.convention['title']} » : le lien de {name} "
        f"({c.participant['email']}) ne peut plus recevoir de code avant le "
        f"{datetime_fr(retry)}. Si ce n'est pas cette personne qui les demande, remplacez le "
        "signataire : son lien ne fonctionnera plus.",
    )


async def send_code(c: Ceremony, audit: Audit) -> None:
    _require_turn(c)
    if c.external:
        raise FieldError(
            "Cette étape se signe avec votre propre outil : déposez le PDF signé.", "code"
        )
    sent = c.participant["code_expires_at"]
    if sent is not None and sent - CODE_LIFETIME + CODE_INTERVAL > clock.now():
        raise FieldError(
            "Un code vient de vous être envoyé : attendez 30 secondes avant d'en "
            "demander un autre.",
            "code",
        )
    code = f"{secrets.randbelow(10**6):06d}"
    # In UTC: SQLite compares the stored times as text.
    at = clock.now().astimezone(dt.UTC)
    window = max(w for w, _ in CODE_CAPS)
    async with repository.locked(c.scope, c.request["id"]):
        # Counted under the request's lock: two processes cannot both send the fifth code.
        recent = await repository.code_events(c.scope, c.participant["id"], at - window)
        retry = code_retry_at([e["at"] for e in recent if e["kind"] == EventKind.CODE_SENT], at)
        if retry is not None:
            await _lock_out(c, recent, retry, audit)
    if retry is not None:
        # Raised after the transaction so the lock-out stays recorded.
        raise _too_many(retry)
    async with repository.locked(c.scope, c.request["id"]):
        await repository.update_participant(
            c.scope,
            c.participant["id"],
            {
                "code_hash": _code_hash(c.participant["id"], code),
                "code_expires_at": clock.now() + CODE_LIFETIME,
                "code_failures": 0,
            },
        )
        await chain.append(
            c.scope,
            c.request["id"],
            EventKind.CODE_SENT,
            audit=audit,
            participant=c.participant["id"],
            document_sha256=c.latest["sha256"],
            details={"to": c.participant["email"]},
            at=at,  # the cap counts these: one clock with the check above
        )
    settings = get_settings()
    message = mail.build_message(
        settings,
        c.participant["email"],
        f"Votre code de signature : {code}",
        "signature_code",
        {
            "code": code,
            "name": c.participant["name"],
            "title": c.convention["title"],
            "minutes": int(CODE_LIFETIME.total_seconds() // 60),
        },
    )
    # Sent now rather than through the outbox: the code must not rest in a job payload.
    try:
        await mail.send(message)
    except mail.MailFailure as exc:
        raise FieldError("L'envoi du code a échoué : réessayez dans un instant.", "code") from exc


async def sign(
    c: Ceremony, code: str, consent: bool, mark: Mark | None, audit: Audit
) -> ParticipantStatus:
    """Checks the code, then records consent: a signer's signature is applied by the `apply`
    job (time-stamp included), an approval is done at once."""
    _require_turn(c)
    code = code.strip().replace(" ", "")
    request_id, participant_id = c.request["id"], c.participant["id"]
    async with repository.locked(c.scope, request_id):
        fresh = await repository.participant(c.scope, participant_id)
        assert fresh is not None
        c.participant = fresh
        _require_turn(c)
        if not c.participant["code_hash"]:
            raise FieldError("Demandez d'abord votre code par e-mail.", "code")
        if c.participant["code_failures"] >= CODE_TRIES:
            raise FieldError("Trop d'essais : demandez un nouveau code.", "code")
        if not c.code_valid:
            raise FieldError("Ce code a expiré : demandez-en un nouveau.", "code")
        if not hmac.compare_digest(_code_hash(participant_id, code), c.participant["code_hash"]):
            failures = c.participant["code_failures"] + 1
            await repository.update_participant(
                c.scope,
                participant_id,
                {
                    "code_failures": failures,
                    **({"code_hash": ""} if failures >= CODE_TRIES else {}),
                },
            )
            await chain.append(
                c.scope,
                request_id,
                EventKind.CODE_FAILED,
                audit=audit,
                participant=participant_id,
                document_sha256=c.latest["sha256"],
                details={"failures": failures},
            )
            left = CODE_TRIES - failures
            failure = FieldError(
                f"Code erroné : il vous reste {left} essai{'s' if left > 1 else ''}."
                if left
                else "Code erroné, et c'était le dernier essai : demandez un nouveau code.",
                "code",
            )
        else:
            failure = None
    if failure is not None:
        # Raised after the transaction so the failed try stays counted.
        raise failure
    if not consent:
        raise FieldError("Cochez la case pour confirmer que vous signez ce document.", "consent")
    if c.participant["role"] == ParticipantRole.SIGNER and mark is None:
        raise FieldError("Choisissez une signature tapée ou tracée.", "mark")
    at = clock.now()
    finished = False
    async with repository.locked(c.scope, request_id):
        await chain.append(
            c.scope,
            request_id,
            EventKind.CODE_CHECKED,
            audit=audit,
            participant=participant_id,
            document_sha256=c.latest["sha256"],
        )
        values: dict[str, Any] = {
            "consent_at": at,
            "code_hash": "",
            "ip": audit.ip,
            "user_agent": audit.user_agent,
        }
        if mark is not None:
            values.update(mark_kind=mark.kind, mark_text=mark.text, mark_image=mark.image)
        if c.participant["role"] == ParticipantRole.APPROVER:
            values.update(status=ParticipantStatus.APPROVED, done_at=at)
            await repository.update_participant(c.scope, participant_id, values)
            await chain.append(
                c.scope,
                request_id,
                EventKind.APPROVED,
                audit=audit,
                participant=participant_id,
                document_sha256=c.latest["sha256"],
            )
            finished = await workflow.advance(c.scope, request_id, audit)
            status = ParticipantStatus.APPROVED
        else:
            values.update(status=ParticipantStatus.SUBMITTED, submitted_at=at)
            await repository.update_participant(c.scope, participant_id, values)
            status = ParticipantStatus.SUBMITTED
        if finished or status == ParticipantStatus.SUBMITTED:
            await jobs.enqueue_apply(c.scope, request_id)
    return status


async def decline(c: Ceremony, reason: str, audit: Audit) -> None:
    if not c.active or c.status not in (ParticipantStatus.PENDING, ParticipantStatus.WAITING):
        raise FieldError(
            "Vous ne pouvez plus refuser : la demande est close ou vous avez agi.", "reason"
        )
    if c.participant["role"] == ParticipantRole.COPY:
        raise FieldError("Vous êtes destinataire en copie : vous n'avez rien à signer.", "reason")
    reason = reason.strip()
    if not reason:
        raise FieldError(
            "Indiquez pourquoi vous refusez de signer : le pilote en sera informé.", "reason"
        )
    async with repository.locked(c.scope, c.request["id"]) as req:
        if req is None or req["status"] != RequestStatus.ACTIVE:
            raise FieldError("Cette demande de signature est close.", "reason")
        await repository.update_participant(
            c.scope,
            c.participant["id"],
            {
                "status": ParticipantStatus.DECLINED,
                "decline_reason": reason[:2000],
                "done_at": clock.now(),
            },
        )
        await workflow.close(
            c.scope,
            c.request["id"],
            RequestStatus.DECLINED,
            EventKind.DECLINED,
            audit,
            reason[:2000],
            participant=c.participant["id"],
        )
        await workflow.tell_pilots(
            c.scope,
            c.request,
            f"{c.participant['name']} refuse de signer « {c.convention['title']} »",
            f"Motif : {reason[:300]}. La demande de signature est arrêtée.",
        )


async def delegate(c: Ceremony, name: str, email: str, reason: str, audit: Audit) -> None:
    """To a named colleague of the same organisation; the pilot is told."""
    if c.participant["role"] == ParticipantRole.COPY or c.status not in (
        ParticipantStatus.PENDING,
        ParticipantStatus.WAITING,
    ):
        raise FieldError("Vous ne pouvez plus déléguer cette signature.", "name")
    colleagues = await tenants.members(c.scope)
    email_norm = email.strip().lower()
    colleague = next(
        (
            m
            for m in colleagues
            if m["email"].lower() == email_norm
            and m["organisation_id"] == c.participant["organisation"]
            and m["is_active"]
        ),
        None,
    )
    if colleague is None:
        raise FieldError(
            f"Choisissez un membre actif de {c.participant['organisation_name']} inscrit sur "
            "le portail : la délégation ne peut aller qu'à un collègue de votre organisation.",
            "email",
        )
    await requests.substitute(
        c.scope,
        c.request["id"],
        c.participant["id"],
        name.strip() or colleague["full_name"],
        email_norm,
        reason.strip() or "Délégation",
        audit,
        EventKind.DELEGATED,
        ParticipantStatus.DELEGATED,
    )
    await workflow.tell_pilots(
        c.scope,
        c.request,
        f"{c.participant['name']} délègue sa signature à {colleague['full_name']}",
        f"Convention « {c.convention['title']} ». Motif : {reason.strip() or 'non précisé'}.",
    )


async def upload_external(c: Ceremony, uploaded: bytes, audit: Audit) -> None:
    """A step signed in the signer's own tool: accepted only if it extends the revision sent,
    byte for byte, with an intact signature covering it, from an accepted authority."""
    # pyHanko on first use (see portal.signing.seals)
    from portal.signing.pades.validation import check_external, validate

    _require_turn(c)
    if not c.external:
        raise FieldError(
            "Cette étape se signe sur le portail, avec le code reçu par e-mail.", "file"
        )
    request_id = c.request["id"]
    latest = c.latest
    sent = await files.get(latest["storage_key"], latest["sha256"])
    seal = await keys.seal(c.scope)
    before = len(await files.cpu(validate, sent, seal.trust_roots, seal.crls))
    try:
        report = await files.cpu(
            lambda: check_external(
                sent,
                uploaded,
                trust_roots=seal.trust_roots,
                crls=seal.crls,
                expected_previous_signatures=before,
            )
        )
    except PadesError as exc:
        async with repository.locked(c.scope, request_id):
            await chain.append(
                c.scope,
                request_id,
                EventKind.EXTERNAL_REJECTED,
                audit=audit,
                participant=c.participant["id"],
                document_sha256=latest["sha256"],
                details={"reason": exc.message},
            )
        raise FieldError(exc.message, "file") from exc
    number = latest["number"] + 1
    sha = files.sha256(uploaded)
    key = files.revision_key(c.scope.consortium_id, request_id, number, sha)
    finished = False
    async with (
        files.stored(key, uploaded, c.scope.consortium_id) as stored,
        repository.locked(c.scope, request_id) as req,
    ):
        current = await repository.latest_revision(c.scope, request_id)
        if (
            req is None
            or req["status"] != RequestStatus.ACTIVE
            or current is None
            or current["number"] != latest["number"]
        ):
            raise FieldError(
                "Le document a changé pendant le dépôt : téléchargez la dernière "
                "version et recommencez.",
                "file",
            )
        await repository.insert_revision(
            c.scope,
            {
                "request": request_id,
                "number": number,
                "kind": RevisionKind.EXTERNAL,
                "participant": c.participant["id"],
                "storage_key": key,
                "sha256": sha,
                "size": len(uploaded),
            },
        )
        await repository.update_participant(
            c.scope,
            c.participant["id"],
            {
                "status": ParticipantStatus.SIGNED,
                "done_at": clock.now(),
                "revision": number,
                "certificate_subject": report.certificate_subject,
                "certificate_issuer": report.certificate_issuer,
                "certificate_qualified": report.qualified,
                "ip": audit.ip,
                "user_agent": audit.user_agent,
            },
        )
        await chain.append(
            c.scope,
            request_id,
            EventKind.EXTERNAL_SIGNED,
            audit=audit,
            participant=c.participant["id"],
            document_sha256=sha,
            details={
                "subject": report.certificate_subject,
                "issuer": report.certificate_issuer,
                "qualified": report.qualified,
                "revision": number,
            },
        )
        finished = await workflow.advance(c.scope, request_id, audit)
        if finished:
            await jobs.enqueue_apply(c.scope, request_id)
        await stored.confirm()
