"""The signup pages: the hosted form (`GET /subscribe`), what a form on any site posts to
(`POST /subscribe`), and the page behind the confirmation link (`/confirm/<token>`).

A bare fetch of the confirmation link never confirms: mail security gateways fetch every
link in a message. The GET shows what would be confirmed and a form with one button that
POSTs to the same URL; a small inline script (allowed by its hash in the page's
Content-Security-Policy, nothing else may run) submits that form as soon as the page has
loaded. A reader with scripts on needs no click after opening the link; with scripts off,
exactly one.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Mapping, Sequence

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pipeline import words as catalogue
from pipeline.audience import confirmation, lists, signup
from pipeline.audience.records import MailingList
from pipeline.audience.signup_form import form_html
from pipeline.audience.tokens import ExpiredLink
from pipeline.delivery.archive import Archive
from pipeline.errors import NewsletterError
from pipeline.issue.archive import archive_url, issue_url
from pipeline.web.pages import (
    FORM_LIMIT,
    SECURITY_HEADERS,
    Site,
    TooLarge,
    form_values,
    mask,
    not_utf8,
    notice,
    page,
    read_body,
    readable,
    render,
)

log = logging.getLogger(__name__)

_AUTO_SUBMIT = 'document.getElementById("confirm-form").submit();'
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(_AUTO_SUBMIT.encode()).digest()).decode()
CONFIRM_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": SECURITY_HEADERS["Content-Security-Policy"]
    + f"; script-src 'sha256-{_SCRIPT_HASH}'",
}


# The fields the form shows back, with a problem at each (the honeypot is never shown).
_SHOWN = ("email", "name", "list")


def _not_utf8(fields: Mapping[str, Sequence[str]], lang: str) -> dict[str, str]:
    """The form's own error at each field whose bytes are not UTF-8: stored as U+FFFD, an
    address would be another address, and a name another name."""
    problem = catalogue.text(lang, "signup.not_utf8")
    return {k: problem for k in _SHOWN if any(not_utf8(v) for v in fields.get(k, []))}


def _readable(fields: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    """The values to show back in the form, a stray byte as U+FFFD."""
    return {name: [readable(v) for v in values] for name, values in fields.items()}


def routes(site: Site) -> list[Route]:
    settings, store, secret, lang = site.settings, site.store, site.secret, site.lang
    title = catalogue.text(lang, "signup.title", name=settings.name)

    def public_lists() -> list[MailingList]:
        return lists.public_lists(store)

    async def signup_page(request: Request) -> Response:
        public = await run_in_threadpool(public_lists)
        if not public:
            return page(title, f"<p>{catalogue.text(lang, 'signup.none')}</p>", settings)
        return page(title, form_html(settings, public), settings)

    async def signup_post(request: Request) -> Response:
        try:
            body = await read_body(request, FORM_LIMIT)
        except TooLarge:
            return PlainTextResponse("request body too large\n", status_code=413)
        fields = form_values(request.headers.get("content-type", ""), body)
        if problems := _not_utf8(fields, lang):
            public = await run_in_threadpool(public_lists)
            form = form_html(settings, public, values=_readable(fields), problems=problems)
            return page(catalogue.text(lang, "signup.problem"), form, settings, status=400)
        client = signup.Client(
            ip=request.client.host if request.client else None,
            user_agent=request.headers.get("user-agent"),
        )
        try:
            received = await run_in_threadpool(signup.receive, store, settings, fields, client)
        except signup.FormProblems as exc:
            public = await run_in_threadpool(public_lists)
            form = form_html(settings, public, values=fields, problems=exc.problems)
            return page(catalogue.text(lang, "signup.problem"), form, settings, status=400)
        if received is signup.Received.limited:
            response = notice(settings, "signup.limited_title", "signup.limited", 429)
            response.headers["Retry-After"] = str(settings.signup_ip_window)
            return response
        # The same answer whatever became of it (accepted or honeypot): no enumeration.
        return notice(settings, "signup.sent_title", "signup.sent")

    def link_problem(exc: NewsletterError) -> Response:
        log.info("refused a confirmation link: %s", exc.message)
        if isinstance(exc, ExpiredLink):
            return notice(settings, "signup.expired_title", "signup.expired", 410, again=True)
        return notice(settings, "signup.bad_title", "signup.bad", 400, again=True)

    def nothing_waiting(who: str, subscribed: list[str]) -> Response:
        """Confirmed before (harmless: say so), or the signup expired unconfirmed."""
        if subscribed:
            return notice(settings, "signup.already_title", "signup.already", who=who)
        return notice(settings, "signup.expired_title", "signup.expired", 410, again=True)

    def refused(email: str) -> Response:
        return notice(settings, "signup.refused_title", "signup.refused", 409, who=mask(email))

    async def confirm_page(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            found = await run_in_threadpool(confirmation.pending, store, settings, secret, token)
        except NewsletterError as exc:
            return link_problem(exc)
        if found.refused:
            return refused(found.email)
        if not found.lists:
            return nothing_waiting(mask(found.email), found.subscribed)
        shown = await run_in_threadpool(lists.titles, store)
        return render(
            "web/confirm.html.j2", settings, headers=CONFIRM_HEADERS, who=mask(found.email),
            lists=[shown.get(n, n) for n in found.lists], script=Markup(_AUTO_SUBMIT),
        )  # fmt: skip

    async def confirm_post(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            await read_body(request, FORM_LIMIT)
        except TooLarge:
            return PlainTextResponse("request body too large\n", status_code=413)
        try:
            done = await run_in_threadpool(confirmation.confirm, store, settings, secret, token)
        except confirmation.Refused as exc:
            return refused(exc.email)
        except NewsletterError as exc:
            return link_problem(exc)
        if not done.lists:
            return nothing_waiting(mask(done.email), done.subscribed)
        sent = await run_in_threadpool(Archive(store, settings, site.issues).issues)
        latest = (issue_url(sent[0].number, settings), sent[0].title) if sent else None
        shown = await run_in_threadpool(lists.titles, store)
        return render(
            "web/confirmed.html.j2", settings, who=mask(done.email),
            lists=[shown.get(n, n) for n in done.lists],
            latest=latest, archive=archive_url(settings),
        )  # fmt: skip

    return [
        Route("/subscribe", signup_page, methods=["GET"]),
        Route("/subscribe", signup_post, methods=["POST"]),
        Route("/confirm/{token}", confirm_page, methods=["GET"]),
        Route("/confirm/{token}", confirm_post, methods=["POST"]),
    ]
