"""`GET /report/N[?list=NAME]`: the campaign report of issue N in the local preview server,
the same page that `newsletter report N --html FILE` writes (`feedback/report_html.py`).

The page is built on each request, so a reload shows the events that came in since. When
the issue went to several lists and none is named, the page links to each list's report.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from pipeline.audience.store import Store
from pipeline.errors import InputError, NotFoundError
from pipeline.feedback import report_html
from pipeline.feedback.report import reports
from pipeline.settings import Settings
from pipeline.web.pages import page

# An issue number in a URL: 18 digits stay below 2**63, the database's integer limit.
_ISSUE_NUMBER = re.compile(r"[0-9]{1,18}")
_HEADERS = {
    "Content-Security-Policy": report_html.CSP + "; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",  # the numbers change as events arrive
}


def _words(ko: bool) -> dict[str, str]:
    if ko:
        return {
            "not_found": "보고서 없음",
            "bad_number": "호수는 숫자여야 합니다: /report/25 처럼 쓰세요.",
            "choose": "제{number}호 보고서: 목록 선택",
            "several": "제{number}호는 여러 목록으로 발송되었습니다. 목록을 고르세요.",
        }
    return {
        "not_found": "No report",
        "bad_number": "An issue number is digits, as in /report/25.",
        "choose": "Issue {number} report: choose a list",
        "several": "Issue {number} went to several lists. Choose one:",
    }


def routes(store: Store | Callable[[], Store], settings: Settings) -> list[Route]:
    """`GET /report/{number}`. `store` may be a function that opens it when first asked
    (the preview server opens the database only when a page needs it)."""
    words = _words(settings.lang.startswith("ko"))
    opened = store if callable(store) else (lambda: store)

    def choose(number: int) -> Response:
        names = [str(r["list"]) for r in reports(opened(), issue_number=number)]
        items = "".join(
            f'<li><a href="/report/{number}?list={quote(name, safe="")}">{html.escape(name)}</a>'
            "</li>"
            for name in names
        )
        body = f"<p>{html.escape(words['several'].format(number=number))}</p><ul>{items}</ul>"
        return page(words["choose"].format(number=number), body, settings.lang)

    def build(number: int, list_name: str | None) -> Response:
        try:
            _, document = report_html.build(
                opened(), number, list_name, name=settings.name, lang=settings.lang
            )
        except NotFoundError as exc:
            hint = f" ({exc.hint})" if exc.hint else ""
            body = f"<p>{html.escape(exc.message + hint)}</p>"
            return page(words["not_found"], body, settings.lang, status=404)
        except InputError:
            return choose(number)  # several lists and none named
        return HTMLResponse(document, headers=_HEADERS)

    async def report(request: Request) -> Response:
        raw = request.path_params["number"]
        # ASCII digits only ("²".isdigit() is true), and few enough for the database.
        if not _ISSUE_NUMBER.fullmatch(raw):
            body = f"<p>{html.escape(words['bad_number'])}</p>"
            return page(words["not_found"], body, settings.lang, status=404)
        list_name = request.query_params.get("list") or None
        return await run_in_threadpool(build, int(raw), list_name)

    return [Route("/report/{number}", report, methods=["GET"])]
