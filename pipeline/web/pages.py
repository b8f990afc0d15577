"""What every page of the web app shares: the security headers, pages from the templates
in `templates/web/` in the newsletter's language, bounded form reading, and address
masking.

No cookies, no sessions: the signed token in the URL is the only credential, and a GET
never changes anything (mail scanners follow links).
"""

from __future__ import annotations

import email.parser
import email.policy
import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import HTMLResponse

from pipeline.db import Store
from pipeline.feedback import sns_verify
from pipeline.settings import Settings
from pipeline.words import templates

FORM_LIMIT = 8 * 1024  # an unsubscribe or signup form is a few bytes
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "Cache-Control": "no-store",
}


@dataclass
class Site:
    """What every route of the web app needs: the settings, the store and the key."""

    settings: Settings
    store: Store
    secret: bytes
    issues: Path
    verifier: sns_verify.SnsVerifier

    @property
    def lang(self) -> str:
        return self.settings.lang

    @property
    def ko(self) -> bool:
        return self.settings.lang.startswith("ko")


class TooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge
    return bytes(body)


def form_values(content_type: str, body: bytes) -> dict[str, list[str]]:
    """Every value of every field of an urlencoded or multipart form (RFC 8058 allows
    both; a signup form repeats `list`), in order. Bytes that are not UTF-8 are kept as
    lone surrogates for `not_utf8` to find, never silently turned into U+FFFD."""
    fields: dict[str, list[str]] = {}
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        if message.is_multipart():
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if isinstance(name, str):
                    payload = bytes(part.get_payload(decode=True) or b"")
                    fields.setdefault(name, []).append(_text(payload).strip())
        return fields
    # Latin-1 maps each byte to one character, so the percent-decoded bytes come back whole.
    pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="latin-1")
    for name, value in pairs:
        fields.setdefault(_text(name.encode("latin-1")), []).append(_text(value.encode("latin-1")))
    return fields


def form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The first value of each field, bytes that are not UTF-8 as U+FFFD (for forms whose
    values are only compared with fixed words, like the one-click unsubscribe)."""
    return {name: readable(values[0]) for name, values in form_values(content_type, body).items()}


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


_NOT_UTF8 = re.compile("[\udc80-\udcff]")  # what surrogateescape made of a stray byte


def readable(value: str) -> str:
    """A value of `form_values` to show or compare: a byte that is not UTF-8 as U+FFFD."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def not_utf8(value: str) -> bool:
    """Whether a value of `form_values` held bytes that are not UTF-8."""
    return _NOT_UTF8.search(value) is not None


def mask(address: str) -> str:
    """`mi****@example.com`: enough for the reader to recognise, little for anyone else."""
    local, _, domain = address.partition("@")
    return f"{local[:2]}{'*' * max(1, len(local) - 2)}@{domain}"


def render(
    template: str,
    settings: Settings,
    status: int = 200,
    headers: Mapping[str, str] = SECURITY_HEADERS,
    **context: object,
) -> HTMLResponse:
    """The page `template` (under templates/, which a project may override) in the
    newsletter's language, with its brand."""
    brand = templates.Brand.of(settings)
    text = templates.render(template, settings.lang, brand=brand, **context)
    return HTMLResponse(text, status_code=status, headers=dict(headers))


def notice(
    settings: Settings,
    title: str,
    text: str,
    status: int = 200,
    *,
    hint: str | None = None,
    again: bool = False,
    **values: object,
) -> HTMLResponse:
    """A page that says one thing: `title`, `text` and `hint` are message ids, `values`
    fill the text (escaped), `again` links back to the signup form."""
    return render(
        "web/notice.html.j2", settings, status, title=title, text=text, values=values, hint=hint,
        again=again,
    )  # fmt: skip


def not_found(settings: Settings) -> HTMLResponse:
    """404 for an address that names no page: the way home, in the site's language."""
    return render("web/not_found.html.j2", settings, 404)


def page(title: str, body: str, settings: Settings, status: int = 200) -> HTMLResponse:
    """A page around a body of markup the code built (values in it escaped already)."""
    return render("web/page.html.j2", settings, status, title=title, body=Markup(body))


def button(action: str, label: str, secondary: bool = False) -> str:
    kind = ' class="secondary"' if secondary else ""
    return (
        f'<form method="post"><input type="hidden" name="action" value="{action}">'
        f'<button type="submit"{kind}>{html.escape(label)}</button></form>'
    )
