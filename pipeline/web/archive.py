"""The web versions of sent issues: `/issues/N` (the "view in browser" link)."""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from pipeline.delivery.sendlog import SendLog
from pipeline.web.issues import IssueCache
from pipeline.web.pages import Site

# An issue number in a URL: 18 digits stay below 2**63, the database's integer limit.
_ISSUE_NUMBER = re.compile(r"[0-9]{1,18}")


def routes(site: Site) -> list[Route]:
    store = site.store
    web_issues = IssueCache(site.issues, site.settings)

    async def web_issue(request: Request) -> Response:
        raw = request.path_params["number"]
        # ASCII digits only ("²".isdigit() is true), and few enough for the database.
        if not _ISSUE_NUMBER.fullmatch(raw):
            return PlainTextResponse("not found\n", status_code=404)
        number = int(raw)
        sent = await run_in_threadpool(
            lambda: any(not c.dry_run for c, _ in SendLog(store).campaigns(issue_number=number))
        )
        document = await run_in_threadpool(web_issues.get, number) if sent else None
        if document is None:
            return PlainTextResponse("no such issue\n", status_code=404)
        headers = {
            "Cache-Control": "public, max-age=300",
            "X-Content-Type-Options": "nosniff",
            # The issue is static: no script, no form; only its own styles and https images.
            "Content-Security-Policy": (
                "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
                "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
            ),
            "Referrer-Policy": "strict-origin-when-cross-origin",
        }
        return HTMLResponse(document, headers=headers)

    return [Route("/issues/{number}", web_issue, methods=["GET"])]
