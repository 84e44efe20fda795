"""Outgoing e-mail: through SMTP when `PORTAL_SMTP_URL` is set, otherwise as `.eml` files under
`<data dir>/mail` that a local user can open with any mail reader."""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import unquote, urlsplit

import aiosmtplib
import anyio

from portal.core.templating import env
from portal.settings import Settings, get_settings


class MailError(RuntimeError):
    pass


def build_message(
    settings: Settings, to: str, subject: str, template: str, context: dict[str, object]
) -> EmailMessage:
    """`template` names a pair: `emails/<template>.txt` and `emails/<template>.html`."""
    from datetime import UTC, datetime

    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain="portail.local")
    full = {"subject": subject, "base_url": settings.base_url, **context}
    message.set_content(env.get_template(f"emails/{template}.txt").render(full))
    message.add_alternative(
        env.get_template(f"emails/{template}.html").render(full), subtype="html"
    )
    return message


async def send(message: EmailMessage) -> None:
    settings = get_settings()
    if settings.smtp_url is None:
        await _write_eml(settings, message)
        return
    url = urlsplit(settings.smtp_url)
    try:
        await aiosmtplib.send(
            message,
            hostname=url.hostname or "localhost",
            port=url.port or (465 if url.scheme == "smtps" else 25),
            username=unquote(url.username) if url.username else None,
            password=unquote(url.password) if url.password else None,
            use_tls=url.scheme == "smtps",
            start_tls=True if url.scheme == "smtp+starttls" else None,
            timeout=30,
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailError(f"Envoi du message impossible : {exc}") from exc


async def _write_eml(settings: Settings, message: EmailMessage) -> None:
    folder = anyio.Path(settings.mail_dir)
    await folder.mkdir(parents=True, exist_ok=True)
    from datetime import UTC, datetime

    name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
    await (folder / name).write_bytes(message.as_bytes())
