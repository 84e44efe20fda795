"""Outgoing e-mail: through SMTP when `PORTAL_SMTP_URL` is set, otherwise as `.eml` files under
`<data dir>/mail` that a local user can open with any mail reader.

A failed send says which of three things happened, because a job must not guess:
`MailUnavailable` (the server never took the message: unreachable, or a temporary refusal),
`MailRejected` (refused for good, 5xx) and `MailUncertain` (the connection broke after the
message was handed over, before the server's answer: it may have been accepted). SMTP has no
command to ask a server whether it accepted a message, so the uncertain case is decided by the
caller's policy (`portal.jobs.service.deliver_once`)."""

from __future__ import annotations

import hashlib
import os
import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib
import anyio

from portal.core.outage import Unavailable
from portal.core.templating import env
from portal.settings import Settings, get_settings

SEND_TIMEOUT = 20.0
CHECK_TIMEOUT = 3.0


class MailFailure(RuntimeError):
    """The message was not (or may not have been) accepted by the SMTP server."""


class MailUnavailable(MailFailure, Unavailable):
    service = "mail"
    default_message = "Le serveur d'e-mails ne répond pas : l'envoi sera retenté."

    def __init__(self, detail: str) -> None:
        super().__init__(f"Envoi du message impossible : {detail}")


class MailRejected(MailFailure):
    pass


class MailUncertain(MailFailure):
    pass


def message_id(key: str, recipient: str, base_url: str) -> str:
    """The same for every attempt at one message (a job's key and its recipient), so that mail
    clients merge a copy sent twice."""
    digest = hashlib.sha256(f"{key}\n{recipient.lower()}".encode()).hexdigest()[:40]
    domain = urlsplit(base_url).hostname or "portail.local"
    return f"<{digest}@{domain}>"


def _one_line(value: str) -> str:
    return " ".join(value.split())


def build_message(
    settings: Settings, to: str, subject: str, template: str, context: dict[str, object]
) -> EmailMessage:
    """`template` names a pair: `emails/<template>.txt` and `emails/<template>.html`."""
    from datetime import UTC, datetime

    message = EmailMessage()
    message["From"] = settings.mail_from
    # Names and titles typed by people reach the subject: a line break there would start a
    # new header (or make the library refuse the message), so headers are one line, always.
    to, subject = _one_line(to), _one_line(subject)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    domain = urlsplit(settings.base_url).hostname or "portail.local"
    message["Message-ID"] = make_msgid(domain=domain)
    full = {"subject": subject, "base_url": settings.base_url, **context}
    message.set_content(env.get_template(f"emails/{template}.txt").render(full))
    message.add_alternative(
        env.get_template(f"emails/{template}.html").render(full), subtype="html"
    )
    return message


class _Client(aiosmtplib.SMTP):
    """Remembers whether the message itself was handed over (DATA)."""

    handed_over = False

    async def data(self, message: str | bytes, /, **kwargs: Any) -> aiosmtplib.SMTPResponse:
        self.handed_over = True
        return await super().data(message, **kwargs)


def _client(settings: Settings, timeout: float) -> _Client:
    assert settings.smtp_url is not None
    url = urlsplit(settings.smtp_url)
    return _Client(
        hostname=url.hostname or "localhost",
        port=url.port or (465 if url.scheme == "smtps" else 25),
        username=unquote(url.username) if url.username else None,
        password=unquote(url.password) if url.password else None,
        use_tls=url.scheme == "smtps",
        start_tls=True if url.scheme == "smtp+starttls" else None,
        timeout=timeout,
    )


async def send(message: EmailMessage) -> None:
    settings = get_settings()
    if settings.smtp_url is None:
        await _write_eml(settings, message)
        return
    client = _client(settings, SEND_TIMEOUT)
    try:
        async with client:
            await client.send_message(message)
    except aiosmtplib.SMTPRecipientsRefused as exc:
        if all(r.code >= 500 for r in exc.recipients):
            raise MailRejected(f"Destinataire refusé : {exc}") from exc
        raise MailUnavailable(str(exc)) from exc
    except aiosmtplib.SMTPResponseException as exc:
        if exc.code >= 500:
            raise MailRejected(f"Message refusé par le serveur : {exc}") from exc
        raise MailUnavailable(str(exc)) from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        if client.handed_over:
            raise MailUncertain(f"Connexion perdue pendant l'envoi : {exc}") from exc
        raise MailUnavailable(str(exc)) from exc


async def check() -> str:
    """Connects and greets the server (EHLO), for the health check; returns the transport."""
    settings = get_settings()
    if settings.smtp_url is None:
        folder = settings.mail_dir
        await anyio.Path(folder).mkdir(parents=True, exist_ok=True)
        if not os.access(folder, os.W_OK):
            raise MailUnavailable(f"{folder} n'est pas accessible en écriture")
        return "files"
    client = _client(settings, CHECK_TIMEOUT)
    try:
        async with client:
            await client.ehlo()
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailUnavailable(str(exc)) from exc
    return "smtp"


async def _write_eml(settings: Settings, message: EmailMessage) -> None:
    folder = anyio.Path(settings.mail_dir)
    try:
        await folder.mkdir(parents=True, exist_ok=True)
        from datetime import UTC, datetime

        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
        await (folder / name).write_bytes(message.as_bytes())
    except OSError as exc:
        raise MailUnavailable(str(exc)) from exc
