"""The local preview server: the same build as render and send, shown as readers will see it.

The page polls /api/state; a change to the issue file or a template bumps the version and
the page reloads itself. A broken edit shows its problems in the page; the server goes on.

The frames take three views of the same build: `as=EMAIL&list=NAME`, the copy a subscriber
from the store would get (their name, their own unsubscribe link; empty: the sample
reader); `scheme=dark`, the copy as a dark-mode client shows it; and the text part. The
page can show subscriber data, so it answers only on loopback and only to a Host header
naming it (a web page elsewhere cannot reach it by DNS rebinding), and no response tells a
linked site where it came from (Referrer-Policy).
"""

from __future__ import annotations

import contextlib
import html
import ipaddress
import logging
import re
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from pipeline.db import Store
from pipeline.errors import NewsletterError, NotFoundError
from pipeline.issue.build import SAMPLE_EMAIL, Build, build, sample_recipient
from pipeline.issue.links import DEFAULT_TIMEOUT, check_issues
from pipeline.issue.message import Addressee, Message, personalise
from pipeline.issue.render import render_web, templates_dir
from pipeline.settings import Settings
from pipeline.web import report_page
from pipeline.web.preview_page import DESKTOP_WIDTH, PHONE_WIDTH, preview_page
from pipeline.web.preview_reader import find_reader

__all__ = ["DESKTOP_WIDTH", "PHONE_WIDTH", "create_app", "dark_variant", "is_loopback"]

log = logging.getLogger(__name__)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")
_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",  # a click in a frame must not send ?as=EMAIL along
    "X-Frame-Options": "SAMEORIGIN",
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# -- dark mode -----------------------------------------------------------------------------

_STYLE = re.compile(r"(<style\b[^>]*>)(.*?)(</style>)", re.IGNORECASE | re.DOTALL)
_SCHEME = re.compile(r"\(\s*prefers-color-scheme\s*:\s*(dark|light)\s*\)", re.IGNORECASE)
_DECLARES_DARK = re.compile(
    r"<meta\s[^>]*name=[\"']?(?:supported-)?color-scheme[\"']?[^>]*content=[\"'][^\"']*dark",
    re.IGNORECASE,
)


def dark_variant(document: str) -> str:
    """The email as a client in dark mode that honours the email's own dark styles renders
    it (Apple Mail, iOS Mail, Outlook for Mac): `(prefers-color-scheme: dark)` matches and
    `(prefers-color-scheme: light)` does not, and an email that declares dark support
    (`<meta name="color-scheme" content="light dark">`) gets a dark canvas, not an inverted
    one. A frame cannot be told to prefer dark (Chromium takes the preference from the
    system, not from the embedding page), so the queries are rewritten into conditions
    that are always true or always false, in style elements only: the text of an article
    about CSS stays as written. Clients that invert colours by themselves (Gmail's apps,
    Outlook for Windows) are not imitated."""

    def conditions(match: re.Match[str]) -> str:
        css = _SCHEME.sub(
            lambda m: "(width >= 0px)" if m.group(1).lower() == "dark" else "(width < 0px)",
            match.group(2),
        )
        return match.group(1) + css + match.group(3)

    result = _STYLE.sub(conditions, document)
    if _DECLARES_DARK.search(result):
        canvas = "<style>:root { color-scheme: dark; }</style>"
        head_end = result.lower().find("</head>")
        result = (
            result[:head_end] + canvas + result[head_end:] if head_end >= 0 else canvas + result
        )
    return result


# -- the build ----------------------------------------------------------------------------


@dataclass
class PreviewState:
    """The latest build of one issue, rebuilt when its inputs change."""

    path: Path
    settings: Settings
    version: int = 0
    signature: tuple[tuple[str, int], ...] = ()
    result: Build | None = None
    message: Message | None = None  # the sample reader's copy
    web: str | None = None
    error: str | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _inputs(self) -> tuple[tuple[str, int], ...]:
        files = [self.path, *sorted(templates_dir().glob("*"))]
        stamps: list[tuple[str, int]] = []
        for file in files:
            try:
                stat = file.stat()
                stamps.append((str(file), stat.st_mtime_ns + stat.st_size))
            except OSError:
                stamps.append((str(file), -1))
        return tuple(stamps)

    def refresh(self) -> None:
        with self.lock:
            signature = self._inputs()
            if signature == self.signature and self.version:
                return
            self.signature = signature
            self.version += 1
            # Nothing of the last good build stays on show once a save breaks.
            self.error, self.message, self.web, self.result = None, None, None, None
            try:
                self.result = build(self.path, self.settings)
                if self.result.rendered is not None and self.result.issue is not None:
                    recipient = sample_recipient(self.settings)
                    self.message = personalise(self.result.rendered, recipient, self.settings)
                    self.web = render_web(self.result.issue, self.settings)
            except NewsletterError as exc:
                self.error = str(exc)
            except Exception as exc:  # the preview must survive any broken edit
                log.exception("preview build failed")
                self.error = f"{type(exc).__name__}: {exc}"

    def copy_for(self, addressee: Addressee) -> Message | None:
        result = self.result
        if self.message is None or result is None or result.rendered is None:
            return None
        return personalise(result.rendered, addressee, self.settings)

    def as_json(self) -> dict[str, object]:
        result = self.result
        rendered = result.rendered if result else None
        # What the editor must see first: problems with the content (in file order), then
        # what may break in an email client; what only looks plainer is a count to open.
        found = result.problems if result else []
        problems = sorted(
            (p for p in found if not p.plainer), key=lambda p: p.rule == "compat"
        )  # a stable sort: each group keeps its order
        return {
            "version": self.version,
            "ok": bool(self.message) and not (result and result.errors) and not self.error,
            "error": self.error,
            "subject": rendered.subject if rendered else None,
            "preheader": rendered.preheader if rendered else None,
            "from": self.settings.from_address,
            "html_bytes": rendered.html_bytes if rendered else None,
            "problems": [p.as_dict() for p in problems],
            "notes": [p.as_dict() for p in found if p.plainer],
        }


def _problem_page(state: PreviewState, error: str | None = None) -> str:
    items = "".join(
        f"<li>{html.escape(str(p))}</li>" for p in (state.result.problems if state.result else [])
    )
    error = error or state.error
    shown = f"<pre>{html.escape(error)}</pre>" if error else ""
    lead = "This copy cannot be shown." if error else "This issue does not build."
    return (
        '<!DOCTYPE html><html lang="en"><meta charset="utf-8"><body style="font-family:'
        f'sans-serif;color:#b42318;padding:12px"><p>{lead}</p>{shown}'
        f"<ul>{items}</ul></body></html>"
    )


# -- the readers ---------------------------------------------------------------------------


class Readers:
    """Who a copy is for: the sample reader, or a subscriber from the store (opened on
    first use, so that a preview without a database works)."""

    def __init__(self, settings: Settings, default_as: str, default_list: str) -> None:
        self.settings = settings
        self.default_as = default_as
        self.default_list = default_list
        self._store: Store | None = None
        self._lock = threading.Lock()

    def wanted(self, request: Request) -> tuple[str, str]:
        """(email, list) asked for; without `as`, the ones `preview --as` named."""
        params = request.query_params
        if "as" not in params:
            return self.default_as, self.default_list
        return params.get("as", "").strip(), params.get("list", "").strip()

    def find(self, email: str, list_name: str) -> tuple[Addressee, dict[str, object]]:
        """The addressee and what the page says about them; NewsletterError if unknown."""
        if not email:
            sample = sample_recipient(self.settings)
            return sample, {
                "sample": True,
                "email": SAMPLE_EMAIL,
                "name": sample.name,
                "list": None,
                "unsubscribe_url": sample.unsubscribe_url,
                "note": None,
            }
        reader = find_reader(self.store(), self.settings, email, list_name or None)
        return reader.addressee, {"sample": False, **reader.as_json()}

    def store(self) -> Store:
        """The subscriber database, opened when first needed (a preview of an issue alone
        never touches it)."""
        with self._lock:
            if self._store is None:
                self._store = Store.open(self.settings.database_url)
            return self._store

    def close(self) -> None:
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()


def _error_json(exc: NewsletterError, status: int = 400) -> JSONResponse:
    return JSONResponse(
        {"error": str(exc), "message": exc.message, "hint": exc.hint},
        status_code=status,
        headers=_HEADERS,
    )


def create_app(
    path: Path,
    settings: Settings,
    *,
    default_as: str = "",
    default_list: str = "",
    link_timeout: float = DEFAULT_TIMEOUT,
) -> Starlette:
    """The preview app of one issue. `default_as` / `default_list`: the subscriber whose
    copy the page opens with (`preview --as`); empty, the sample reader."""
    state = PreviewState(path=path, settings=settings)
    readers = Readers(settings, default_as, default_list)

    def page(request: Request) -> Response:
        state.refresh()
        body = preview_page(str(path), state.version, default_as, default_list)
        return HTMLResponse(body, headers=_HEADERS)

    def copy(request: Request) -> tuple[Message | None, str | None]:
        state.refresh()
        try:
            addressee, _ = readers.find(*readers.wanted(request))
        except NewsletterError as exc:
            return None, str(exc)
        return state.copy_for(addressee), None

    def email_html(request: Request) -> Response:
        message, error = copy(request)
        if message is None:
            return HTMLResponse(_problem_page(state, error), headers=_HEADERS)
        document = message.html
        if request.query_params.get("scheme") == "dark":
            document = dark_variant(document)
        return HTMLResponse(document, headers=_HEADERS)

    def email_text(request: Request) -> Response:
        message, error = copy(request)
        if message is None:
            text = error or state.error or "This issue does not build."
            return PlainTextResponse(text, headers=_HEADERS)
        return PlainTextResponse(message.text, headers=_HEADERS)

    def web_html(request: Request) -> Response:
        state.refresh()
        return HTMLResponse(state.web or _problem_page(state), headers=_HEADERS)

    def api_state(request: Request) -> Response:
        state.refresh()
        return JSONResponse(state.as_json(), headers=_HEADERS)

    def api_reader(request: Request) -> Response:
        try:
            _, shown = readers.find(*readers.wanted(request))
        except NewsletterError as exc:
            return _error_json(exc, 404 if isinstance(exc, NotFoundError) else 400)
        return JSONResponse(shown, headers=_HEADERS)

    async def api_links(request: Request) -> Response:
        state.refresh()
        issue = state.result.issue if state.result else None
        if issue is None:
            return _error_json(NewsletterError("the issue cannot be read: fix it first"), 409)
        (checked,) = await check_issues([issue], timeout=link_timeout)
        return JSONResponse(
            {
                "links": len(checked.links),
                "urls": len(checked.results),
                "problems": [p.as_dict() for p in checked.problems()],
                "results": [r.as_dict() for r in checked.results.values()],
            },
            headers=_HEADERS,
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        readers.close()

    app = Starlette(
        routes=[
            Route("/", page),
            Route("/email.html", email_html),
            Route("/web.html", web_html),
            Route("/email.txt", email_text),
            Route("/api/state", api_state),
            Route("/api/reader", api_reader),
            Route("/api/links", api_links, methods=["POST"]),
            *report_page.routes(readers.store, settings),
        ],
        middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=list(LOOPBACK_NAMES))],
        lifespan=lifespan,
    )
    app.state.readers = readers
    return app
