"""What every page of the web app shares: the security headers, the page frame in the
newsletter's language, bounded form reading, and address masking.

No cookies, no sessions: the signed token in the URL is the only credential, and a GET
never changes anything (mail scanners follow links).
"""

from __future__ import annotations

import email.parser
import email.policy
import html
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import HTMLResponse

from pipeline.audience.store import Store
from pipeline.feedback import sns_verify
from pipeline.settings import Settings

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


_PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>
body {{ font-family: system-ui, -apple-system, 'Apple SD Gothic Neo', 'Malgun Gothic', sans-serif;
  max-width: 34rem; margin: 3rem auto; padding: 0 1.25rem; line-height: 1.6; color: #1f2328; }}
h1 {{ font-size: 1.5rem; }}
button {{ font: inherit; font-size: 1.05rem; padding: .6rem 1.2rem; border-radius: .4rem;
  border: 1px solid #1f2328; background: #1f2328; color: #fff; cursor: pointer; }}
button.secondary {{ background: #fff; color: #1f2328; }}
button:focus-visible {{ outline: 3px solid #0b57d0; outline-offset: 2px; }}
.muted {{ color: #57606a; font-size: .9rem; }}
</style></head>
<body><main>
<h1>{title}</h1>
{body}
</main></body></html>
"""


def page(title: str, body: str, lang: str, status: int = 200) -> HTMLResponse:
    text = _PAGE.format(lang=html.escape(lang), title=html.escape(title), body=body)
    return HTMLResponse(text, status_code=status, headers=SECURITY_HEADERS)


def button(action: str, label: str, secondary: bool = False) -> str:
    kind = ' class="secondary"' if secondary else ""
    return (
        f'<form method="post"><input type="hidden" name="action" value="{action}">'
        f'<button type="submit"{kind}>{html.escape(label)}</button></form>'
    )
