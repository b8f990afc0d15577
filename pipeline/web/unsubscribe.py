"""The preference page behind the link in every message, `/unsubscribe/<token>`: the
reader's lists and their states, and a form for each change (leave the link's list, leave
another, leave all, rejoin one they left); RFC 8058's one-click POST; the answer to a test
copy's link.

No login: the signed token is the only credential, and it names one subscriber and one
list. A GET never changes anything (mail scanners follow links); every POST is checked
field by field (`preferences.py` refuses a list that is not the reader's), and anything
unexpected changes nothing. The pages are templates in `templates/web/`.
"""

from __future__ import annotations

import logging
import re

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pipeline.audience import preferences as library
from pipeline.audience.tokens import looks_like_test_token, verify_test_token, verify_token
from pipeline.errors import NewsletterError
from pipeline.web import preference_page as pages
from pipeline.web.pages import FORM_LIMIT, Site, TooLarge, form_fields, notice, read_body

log = logging.getLogger(__name__)

# A list id in a form: ASCII digits ("²".isdigit() is true), few enough for the database.
_LIST_ID = re.compile(r"[0-9]{1,18}")
ONE_CLICK_DONE = {"Cache-Control": "no-store"}


def routes(site: Site) -> list[Route]:
    settings, store, secret = site.settings, site.store, site.secret

    def bad_link(reason: str) -> Response:
        # The reason ("token ... signed with another key") is for the log, not the reader,
        # and it is English on a page that may not be.
        log.info("refused an unsubscribe link: %s", reason)
        return notice(
            settings, "unsubscribe.bad_title", "unsubscribe.bad", 400, hint="unsubscribe.bad_hint"
        )

    def test_copy(token: str, *, one_click: bool = False) -> Response:
        """The answer to a test copy's link: it unsubscribes nobody, and says so."""
        try:
            issue_number = verify_test_token(secret, token)
        except NewsletterError as exc:
            if one_click:
                return PlainTextResponse(f"{exc.message}\n", status_code=400)
            return bad_link(exc.message)
        if one_click:
            return PlainTextResponse("test copy: nobody was unsubscribed\n", headers=ONE_CLICK_DONE)
        return notice(
            settings,
            "unsubscribe.test_title",
            "unsubscribe.test_copy",
            hint="unsubscribe.test_copy_hint",
            number=issue_number,
        )

    def show(
        prefs: library.Preferences, outcome: pages.Outcome | None = None, list_name: str = ""
    ) -> Response:
        return pages.preference_page(prefs, settings=settings, outcome=outcome, list_name=list_name)

    async def preference_get(request: Request) -> Response:
        token = request.path_params["token"]
        if looks_like_test_token(token):
            return test_copy(token)
        try:
            subscriber_id, list_id = verify_token(secret, token)  # InputError if forged
            prefs = await run_in_threadpool(library.preferences, store, subscriber_id, list_id)
        except NewsletterError as exc:
            return bad_link(exc.message)
        return show(prefs)

    async def preference_post(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            body = await read_body(request, FORM_LIMIT)
        except TooLarge:
            return PlainTextResponse("request body too large\n", status_code=413)
        fields = form_fields(request.headers.get("content-type", ""), body)
        one_click = fields.get("List-Unsubscribe") == "One-Click"
        if looks_like_test_token(token):
            return test_copy(token, one_click=one_click)
        try:
            subscriber_id, link_list_id = verify_token(secret, token)
        except NewsletterError as exc:
            if one_click:
                return PlainTextResponse(f"{exc.message}\n", status_code=400)
            return bad_link(exc.message)
        if one_click:
            # RFC 8058: the mail client's one-click request, for the link's list only;
            # answer 200, no redirect, nothing to render.
            try:
                await run_in_threadpool(
                    library.leave, store, subscriber_id, link_list_id, link_list_id
                )
            except NewsletterError as exc:
                return PlainTextResponse(f"{exc.message}\n", status_code=400)
            return PlainTextResponse("unsubscribed\n", headers=ONE_CLICK_DONE)
        action = fields.get("action")
        # The old page's two buttons (a page opened before an upgrade) name no list: they
        # mean the link's own.
        if action in ("unsubscribe", "resubscribe"):
            list_id: int | None = link_list_id
            action = "leave" if action == "unsubscribe" else "rejoin"
        else:
            raw = fields.get("list", "")
            list_id = int(raw) if _LIST_ID.fullmatch(raw) else None
        if action not in ("leave", "rejoin", "leave-all") or (
            action != "leave-all" and list_id is None
        ):
            log.info(
                "refused a preference form: action %.40r, list %.40r", action, fields.get("list")
            )
            return pages.bad_request(settings)
        ip = request.client.host if request.client else None
        return await run_in_threadpool(
            change,
            action,
            subscriber_id,
            link_list_id,
            list_id,
            ip=ip,
            user_agent=request.headers.get("user-agent"),
        )

    def change(
        action: str,
        subscriber_id: int,
        link_list_id: int,
        list_id: int | None,
        *,
        ip: str | None,
        user_agent: str | None,
    ) -> Response:
        """Do the form's change (in a worker thread: the database calls block) and answer
        with the page as it is now."""
        try:
            if action == "leave-all":
                done = library.leave_all(store, subscriber_id, link_list_id)
                return show(done.preferences, "left_all")
            assert list_id is not None
            if action == "leave":
                done = library.leave(store, subscriber_id, link_list_id, list_id)
                return show(done.preferences, "left_one", done.list_name or "")
            done = library.rejoin(
                store, subscriber_id, link_list_id, list_id, ip=ip, user_agent=user_agent
            )
            return show(done.preferences, "rejoined", done.list_name or "")
        except library.NotTheirs as exc:
            log.info("refused a preference form: %s", exc.message)
            return pages.bad_request(settings)
        except library.RejoinRefused as exc:
            # exc.message is for the publisher (ids, CLI options); the page says it plainly.
            log.info("rejoin refused: %s", exc.message)
            return pages.refusal(exc.email, exc.reason, exc.list_name, settings)
        except NewsletterError as exc:  # forgotten, or the link's list deleted
            return bad_link(exc.message)

    return [
        Route("/unsubscribe/{token}", preference_get, methods=["GET"]),
        Route("/unsubscribe/{token}", preference_post, methods=["POST"]),
    ]
