"""One recipient's copy of a rendered issue, and the MIME message a mail client would see."""

from __future__ import annotations

import base64
import functools
import re
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UniqueAddressHeader
from email.message import EmailMessage
from email.policy import SMTP, Policy
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from typing import cast

from pipeline.clock import utcnow
from pipeline.errors import RenderError
from pipeline.issue.render import Rendered
from pipeline.settings import Settings
from pipeline.text import CONTROLS

# The policy that writes header values for the wire: RFC 2047 words for anything that is
# not ASCII, and no folding, since SES takes each header value as one line.
WIRE = SMTP.clone(max_line_length=0)
_FIELD_NAME = re.compile(r"[!-9;-~]+")  # RFC 5322 ftext
_PRINTABLE = re.compile(r"[ -~]*")


class HeaderError(ValueError):
    """A header that cannot be written safely (a line break or control character in it)."""


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
    # (display name, address) that `to` was written from: a transport that writes the
    # header itself takes these rather than parsing `to` again.
    to_mailbox: tuple[str, str] | None = None


def one_line(text: str) -> str:
    """A display name as one line: a line break or control character (in a name stored
    before imports cleaned names, say) becomes a space; it could only harm a header. Other
    spaces (a no-break space, an ideographic one) are the reader's text and stay."""
    if text.isprintable() and "  " not in text and text == text.strip(" "):
        return text  # the usual case, ten times faster
    return " ".join(part for part in _LINE_BREAKS.sub(" ", text).split(" ") if part)


_LINE_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # controls, and what splits lines


def wire_value(name: str, value: str) -> str:
    """A header's value as it goes on the wire, written by the `email` package's header
    machinery: printable ASCII on one line, RFC 2047 words where needed. Anything that
    would still carry a line break or control character is refused (HeaderError)."""
    if not _FIELD_NAME.fullmatch(name):
        raise HeaderError(f"{name!r} is not a valid header name")
    if _PLAIN.fullmatch(value):
        return value  # already what the machinery would write (and 30x faster)
    return _written(name, value)


# Printable ASCII words separated by single spaces, with nothing that looks like an
# encoded word: the machinery writes such a value unchanged.
_PLAIN = re.compile(r"(?!.*=\?)[!-~]+( [!-~]+)*")


@functools.lru_cache(maxsize=256)  # List-Id is the same on every message of a campaign
def _written(name: str, value: str) -> str:
    if CONTROLS.search(value):
        raise HeaderError(f"{name}: a line break or control character in {value[:80]!r}")
    folded = str(WIRE.header_factory(name, value).fold(policy=WIRE))
    prefix = f"{name}: "
    written = folded.removeprefix(prefix).removesuffix("\r\n")
    if not folded.startswith(prefix) or not _PRINTABLE.fullmatch(written):
        raise HeaderError(f"{name}: cannot be written on one line: {value[:80]!r}")
    return written


def format_address(email: str, name: str = "") -> str:
    """`=?utf-8?b?7J2066aE?= <a@example.com>`: the address with its display name written
    by `display_name` (one printable ASCII line when the address is ASCII)."""
    local, _, domain = email.rpartition("@")
    addr_spec = Address(username=local, domain=domain).addr_spec
    name = one_line(name)
    return f"{display_name(name)} <{addr_spec}>" if name else addr_spec


# RFC 5322 specials: an ASCII name holding one is written as a quoted string.
_SPECIALS = re.compile(r'[][\\()<>@,:;".]')


def display_name(name: str) -> str:
    """A display name as a header phrase that every mail client shows as exactly `name`.
    Plain ASCII is written as it is (quoted where it holds specials); anything else,
    and any name holding `=?`, is RFC 2047-encoded whole: a reader typed that text, and
    an encoded word left raw would be decoded by the client into whatever it hides (a
    fake address, a line break, a bidirectional override)."""
    if name.isascii() and "=?" not in name:
        if _SPECIALS.search(name):
            return '"' + re.sub(r'(["\\])', r"\\\1", name) + '"'
        return name
    # One encoded word, however long: readers differ on the space between two (RFC 2047
    # drops it, Python's parser keeps it), and a name has at most 200 characters.
    return f"=?utf-8?b?{base64.b64encode(name.encode('utf-8')).decode('ascii')}?="


class _MailboxHeader(UniqueAddressHeader):
    """From, To and Reply-To as the `email` package parses them, written with
    `display_name`: its own folding writes a name that holds `=?` raw, for a mail client
    to decode."""

    def fold(self, *, policy: Policy) -> str:
        # The registry mixes BaseHeader in (the name, the folding); typeshed cannot say so.
        header = cast(BaseHeader, self)
        if not all(a.addr_spec.isascii() for a in self.addresses):
            return BaseHeader.fold(header, policy=policy)  # an SMTPUTF8 address: as before
        value = ", ".join(format_address(a.addr_spec, a.display_name) for a in self.addresses)
        return f"{header.name}: {value}{policy.linesep}"


_HEADERS = HeaderRegistry()
for _field in ("from", "to", "reply-to"):
    _HEADERS.map_to_type(_field, cast("type[BaseHeader]", _MailboxHeader))
# The policy of a whole message (an .eml a person opens in a mail client).
EML = SMTP.clone(header_factory=_HEADERS)


def list_headers(settings: Settings, unsubscribe_url: str) -> dict[str, str]:
    """RFC 2369 / 8058 one-click unsubscribe and RFC 2919 List-Id. The URLs are checked
    where they enter (settings: no `>`, space or control character in them)."""
    targets = [f"<{unsubscribe_url}>"]
    if settings.unsubscribe_mailto:
        targets.append(f"<mailto:{settings.unsubscribe_mailto}?subject=unsubscribe>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "List-Id": _list_id(settings.name, settings.list_id),
    }


@functools.lru_cache(maxsize=8)  # the same on every message of a campaign
def _list_id(name: str, list_id: str) -> str:
    # The name is a phrase: quoted if it has specials, RFC 2047 words if not ASCII.
    return formataddr((one_line(name), list_id), charset="utf-8")


def personalise(
    rendered: Rendered, recipient: Addressee, settings: Settings, *, subject_prefix: str = ""
) -> Message:
    """Fill the personal fields: a join over the pre-rendered parts, no re-render."""
    values = {
        "name": recipient.name,
        "email": recipient.email,
        "unsubscribe_url": recipient.unsubscribe_url,
    }
    name = one_line(recipient.name)
    return Message(
        from_address=settings.from_address,
        to=format_address(recipient.email, name),
        to_mailbox=(name, recipient.email),
        subject=subject_prefix + rendered.subject,
        html=rendered.html.fill(values, escape=True),
        text=rendered.text.fill(values, escape=False),
        headers=list_headers(settings, recipient.unsubscribe_url),
        reply_to=settings.reply_to,
    )


def to_mime(
    message: Message, *, date: datetime | None = None, message_id: str | None = None
) -> EmailMessage:
    """The full MIME message (multipart/alternative: text, then HTML) with all its headers.
    A header that cannot be written safely is a RenderError naming it."""
    mime = EmailMessage(policy=EML)
    sender_name, sender = parseaddr(message.from_address)
    headers = [("From", format_address(sender, sender_name)), ("To", message.to)]
    if message.reply_to:
        headers.append(("Reply-To", message.reply_to))
    headers += [
        ("Subject", message.subject),
        ("Date", format_datetime(date or utcnow())),
        ("Message-ID", message_id or make_msgid(domain=sender.rpartition("@")[2])),
        *message.headers.items(),
    ]
    for name, value in headers:
        try:
            wire_value(name, value)  # the same check as on the way to SES
            mime[name] = value
        except (HeaderError, ValueError) as exc:
            raise RenderError(
                f"the {name} header cannot be written: {exc}",
                hint="a header must be one line: remove the line break or control character",
            ) from None
    mime.set_content(message.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    mime.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return mime
