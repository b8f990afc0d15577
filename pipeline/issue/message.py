"""One recipient's copy of a rendered issue, and the MIME message a mail client would see."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr

from pipeline.issue.render import Rendered
from pipeline.settings import Settings


@dataclass(frozen=True, slots=True)
class Addressee:
    """Who gets a copy. `unsubscribe_url` comes from the subscriber store's signed token."""

    email: str
    name: str = ""
    unsubscribe_url: str = ""


@dataclass(frozen=True, slots=True)
class Message:
    """Everything a transport needs to send one copy."""

    from_address: str
    to: str
    subject: str
    html: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)
    reply_to: str | None = None


def format_address(email: str, name: str = "") -> str:
    """`이름 <a@example.com>` with the display name encoded as RFC 2047 wants (by the policy)."""
    local, _, domain = email.rpartition("@")
    return str(Address(display_name=name, username=local, domain=domain))


def list_headers(settings: Settings, unsubscribe_url: str) -> dict[str, str]:
    """RFC 2369 / 8058 one-click unsubscribe and RFC 2919 List-Id."""
    targets = [f"<{unsubscribe_url}>"]
    if settings.unsubscribe_mailto:
        targets.append(f"<mailto:{settings.unsubscribe_mailto}?subject=unsubscribe>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": f"{settings.name} <{settings.list_id}>",
    }


def personalise(
    rendered: Rendered, recipient: Addressee, settings: Settings, *, subject_prefix: str = ""
) -> Message:
    """Fill the personal fields: a join over the pre-rendered parts, no re-render."""
    values = {
        "name": recipient.name,
        "email": recipient.email,
        "unsubscribe_url": recipient.unsubscribe_url,
    }
    return Message(
        from_address=settings.from_address,
        to=format_address(recipient.email, recipient.name),
        subject=subject_prefix + rendered.subject,
        html=rendered.html.fill(values, escape=True),
        text=rendered.text.fill(values, escape=False),
        headers=list_headers(settings, recipient.unsubscribe_url),
        reply_to=settings.reply_to,
    )


def to_mime(
    message: Message, *, date: datetime | None = None, message_id: str | None = None
) -> EmailMessage:
    """The full MIME message (multipart/alternative: text, then HTML) with all its headers."""
    mime = EmailMessage(policy=SMTP)
    sender_name, sender = parseaddr(message.from_address)
    mime["From"] = format_address(sender, sender_name)
    mime["To"] = message.to
    if message.reply_to:
        mime["Reply-To"] = message.reply_to
    mime["Subject"] = message.subject
    mime["Date"] = format_datetime(date or datetime.now(UTC))
    mime["Message-ID"] = message_id or make_msgid(domain=sender.rpartition("@")[2])
    for name, value in message.headers.items():
        mime[name] = value
    mime.set_content(message.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    mime.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return mime
