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
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

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


def form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """Fields of an urlencoded or multipart form (RFC 8058 allows both)."""
    if content_type.startswith("multipart/form-data"):
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        fields: dict[str, str] = {}
        if message.is_multipart():
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                if isinstance(name, str):
                    payload = part.get_payload(decode=True) or b""
                    fields[name] = bytes(payload).decode("utf-8", "replace").strip()
        return fields
    text = body.decode("utf-8", "replace")
    return {k: v[0] for k, v in parse_qs(text, keep_blank_values=True).items()}


def mask(address: str) -> str:
    """`mi****@example.com`: enough for the reader to recognise, little for anyone else."""
    local, _, domain = address.partition("@")
    return f"{local[:2]}{'*' * max(1, len(local) - 2)}@{domain}"


def render(
    template: str,
    lang: str,
    status: int = 200,
    headers: Mapping[str, str] = SECURITY_HEADERS,
    **context: object,
) -> HTMLResponse:
    """The page `template` (under templates/, which a project may override) in `lang`."""
    text = templates.render(template, lang, **context)
    return HTMLResponse(text, status_code=status, headers=dict(headers))


def notice(
    lang: str,
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
        "web/notice.html.j2", lang, status, title=title, text=text, values=values, hint=hint,
        again=again,
    )  # fmt: skip


def page(title: str, body: str, lang: str, status: int = 200) -> HTMLResponse:
    """A page around a body of markup the code built (values in it escaped already)."""
    return render("web/page.html.j2", lang, status, title=title, body=Markup(body))


def button(action: str, label: str, secondary: bool = False) -> str:
    kind = ' class="secondary"' if secondary else ""
    return (
        f'<form method="post"><input type="hidden" name="action" value="{action}">'
        f'<button type="submit"{kind}>{html.escape(label)}</button></form>'
    )
