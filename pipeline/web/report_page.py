"""`GET /report/N[?list=NAME]`: the campaign report of issue N in the local preview server,
the same page that `newsletter report N --html FILE` writes (`feedback/report_html.py`).

The page is built on each request, so a reload shows the events that came in since. When
the issue went to several lists and none is named, the page links to each list's report
(`templates/web/report_lists.html.j2`); no report is `report_missing.html.j2`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from pipeline.db import Store
from pipeline.errors import InputError, NotFoundError
from pipeline.feedback import report_html
from pipeline.feedback.report import reports
from pipeline.settings import Settings
from pipeline.web.pages import notice, render

# An issue number in a URL: 18 digits stay below 2**63, the database's integer limit.
_ISSUE_NUMBER = re.compile(r"[0-9]{1,18}")
_HEADERS = {
    "Content-Security-Policy": report_html.CSP + "; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # the numbers change as events arrive
}


def routes(store: Store | Callable[[], Store], settings: Settings) -> list[Route]:
    """`GET /report/{number}`. `store` may be a function that opens it when first asked
    (the preview server opens the database only when a page needs it)."""
    opened = store if callable(store) else (lambda: store)

    def choose(number: int) -> Response:
        found = reports(opened(), issue_number=number)
        names = [str(r["list"]) for r in found]
        several = len(set(names)) < len(names)  # one list's segments: a link per campaign
        lists = [
            (
                f"/report/{number}?list={quote(name, safe='')}"
                + (f"&campaign={r['campaign']}" if several else ""),
                f"{name} ({r['audience']})" if several and r["audience"] else name,
            )
            for name, r in zip(names, found, strict=True)
        ]
        return render(
            "web/report_lists.html.j2", settings, number=number, lists=lists, campaigns=several
        )

    def build(number: int, list_name: str | None, campaign_id: int | None = None) -> Response:
        try:
            _, document = report_html.build(
                opened(),
                number,
                list_name,
                name=settings.name,
                lang=settings.lang,
                campaign_id=campaign_id,
            )
        except NotFoundError as exc:
            hint = f" ({exc.hint})" if exc.hint else ""
            return render("web/report_missing.html.j2", settings, 404, reason=exc.message + hint)
        except InputError:
            return choose(number)  # several lists and none named
        return HTMLResponse(document, headers=_HEADERS)

    async def report(request: Request) -> Response:
        raw = request.path_params["number"]
        # ASCII digits only ("²".isdigit() is true), and few enough for the database.
        if not _ISSUE_NUMBER.fullmatch(raw):
            return notice(settings, "report.page_not_found", "report.page_bad_number", 404)
        list_name = request.query_params.get("list") or None
        campaign = request.query_params.get("campaign", "")
        campaign_id = int(campaign) if _ISSUE_NUMBER.fullmatch(campaign) else None
        return await run_in_threadpool(build, int(raw), list_name, campaign_id)

    return [Route("/report/{number}", report, methods=["GET"])]
