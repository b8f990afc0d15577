"""The public archive: `/issues` (every sent issue), `/issues/N` (the web version as it was
sent: the "view in browser" link) and `/feed.xml` (Atom). The pages come from
pipeline/delivery/archive.py (which reads the sent issues; pipeline/issue/archive.py builds
the pages), the same ones `newsletter archive --out` writes as files."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from pipeline.delivery.archive import Archive
from pipeline.issue.archive import WEB_APP_LINKS
from pipeline.web.pages import Site, not_found

# An issue number in a URL: 18 digits stay below 2**63, the database's integer limit.
_ISSUE_NUMBER = re.compile(r"[0-9]{1,18}")

# The archive is public and the same for everyone: caches may keep it a few minutes.
HEADERS = {
    "Cache-Control": "public, max-age=300",
    "X-Content-Type-Options": "nosniff",
    # Static pages: no script; only their own styles and https images.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
        "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


def page_headers(public_url: str) -> dict[str, str]:
    """HEADERS for pages whose forms post to the signup at `public_url` (the home page and
    the subscribe box): the one place their forms may go."""
    parts = urlsplit(public_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    target = origin if re.fullmatch(r"https?://[A-Za-z0-9.\-:\[\]]+", origin) else "'self'"
    policy = HEADERS["Content-Security-Policy"].replace(
        "form-action 'none'", f"form-action 'self' {target}"
    )
    return {**HEADERS, "Content-Security-Policy": policy}


def routes(site: Site) -> list[Route]:
    archive = Archive(site.store, site.settings, site.issues)

    headers = page_headers(site.settings.public_url)

    async def home(request: Request) -> Response:
        document = await run_in_threadpool(archive.home, WEB_APP_LINKS)
        return HTMLResponse(document, headers=headers)

    async def index(request: Request) -> Response:
        document = await run_in_threadpool(archive.index, WEB_APP_LINKS)
        return HTMLResponse(document, headers=headers)

    async def web_issue(request: Request) -> Response:
        raw = request.path_params["number"]
        # ASCII digits only ("²".isdigit() is true), and few enough for the database.
        if not _ISSUE_NUMBER.fullmatch(raw):
            return not_found(site.settings)
        document = await run_in_threadpool(archive.page, int(raw), WEB_APP_LINKS)
        if document is None:
            return not_found(site.settings)
        return HTMLResponse(document, headers=headers)

    async def feed(request: Request) -> Response:
        document = await run_in_threadpool(archive.feed)
        return Response(document, media_type="application/atom+xml; charset=utf-8", headers=HEADERS)

    return [
        Route("/", home, methods=["GET"]),
        Route("/issues", index, methods=["GET"]),
        Route("/issues/{number}", web_issue, methods=["GET"]),
        Route("/feed.xml", feed, methods=["GET"]),
    ]
