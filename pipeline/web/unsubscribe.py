"""The unsubscribe pages behind the link in every message: the page a reader opens, its
buttons, RFC 8058's one-click POST, and the answer to a test copy's link."""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from pipeline.audience.store import MailingList, Store, Subscriber
from pipeline.audience.subscribers import resubscribe, unsubscribe_by_token
from pipeline.audience.tokens import looks_like_test_token, verify_test_token, verify_token
from pipeline.errors import InputError, NewsletterError, NotFoundError
from pipeline.web.pages import (
    FORM_LIMIT,
    Site,
    TooLarge,
    button,
    form_fields,
    mask,
    page,
    read_body,
)

log = logging.getLogger(__name__)


@dataclass
class Target:
    subscriber: Subscriber
    mailing_list: MailingList
    membership: str | None


def _target(store: Store, secret: bytes, token: str) -> Target:
    subscriber_id, list_id = verify_token(secret, token)  # InputError if forged
    with store.begin(write=False) as tx:
        subscriber = tx.subscriber_by_id(subscriber_id)
        mailing_list = tx.list_by_id(list_id)
        if subscriber is None or mailing_list is None:
            raise InputError("this unsubscribe link is no longer valid")
        membership = tx.membership_statuses(list_id, [subscriber_id]).get(subscriber_id)
    return Target(subscriber, mailing_list, membership)


def _unsubscribe(store: Store, secret: bytes, token: str) -> None:
    """The library's unsubscribe-by-token; idempotent. Someone who is no longer on the
    list has nothing to undo, so that is not an error for the reader."""
    try:
        outcome = unsubscribe_by_token(store, secret, token)
    except NotFoundError:
        return
    if outcome.changed:
        log.info("%s", outcome.message)


def routes(site: Site) -> list[Route]:
    settings, store, secret, lang, ko = site.settings, site.store, site.secret, site.lang, site.ko

    def bad_link(reason: str) -> Response:
        # The reason ("token ... signed with another key") is for the log, not the reader,
        # and it is English on a page that may not be.
        log.info("refused an unsubscribe link: %s", reason)
        title = "잘못된 링크" if ko else "This link is not valid"
        message = (
            "이 수신 거부 링크는 올바르지 않거나 더 이상 쓸 수 없습니다."
            if ko
            else "This unsubscribe link is not valid, or no longer works."
        )
        body = (
            f'<p>{message}</p><p class="muted">'
            + (
                "이메일에 있는 링크 전체를 복사해 주세요."
                if ko
                else "Copy the whole link from the email, or reply to the email for help."
            )
            + "</p>"
        )
        return page(title, body, lang, status=400)

    def test_copy(token: str, *, one_click: bool = False) -> Response:
        """The answer to a test copy's link: it unsubscribes nobody, and says so."""
        try:
            issue_number = verify_test_token(secret, token)
        except NewsletterError as exc:
            if one_click:
                return PlainTextResponse(f"{exc.message}\n", status_code=400)
            return bad_link(exc.message)
        if one_click:
            return PlainTextResponse(
                "test copy: nobody was unsubscribed\n", headers={"Cache-Control": "no-store"}
            )
        title = "테스트 메일입니다" if ko else "This was a test copy"
        text = (
            f"<p>이 링크는 {issue_number}호 테스트 메일에 들어 있던 것이라 아무도 수신 거부되지 "
            '않았습니다.</p><p class="muted">실제로 보낸 메일에서는 이 링크가 받는 사람을 '
            "그 목록에서 수신 거부합니다.</p>"
            if ko
            else f"<p>This link came in a test copy of issue {issue_number}, so nobody was "
            'unsubscribed.</p><p class="muted">In the issue as sent, this link unsubscribes '
            "its reader from that list.</p>"
        )
        return page(title, text, lang)

    async def unsubscribe_page(request: Request) -> Response:
        token = request.path_params["token"]
        if looks_like_test_token(token):
            return test_copy(token)
        try:
            target = await run_in_threadpool(_target, store, secret, token)
        except NewsletterError as exc:
            return bad_link(exc.message)
        who = html.escape(mask(target.subscriber.email))
        name = html.escape(target.mailing_list.name)
        if target.membership != "subscribed":
            title = "이미 수신 거부됨" if ko else "You are unsubscribed"
            text = (
                f"<p>{who} 주소는 {name} 목록에서 수신 거부되어 있습니다.</p>"
                if ko
                else f"<p>{who} no longer receives {name}.</p>"
            )
            return page(
                title,
                text
                + button("resubscribe", "다시 구독하기" if ko else "Resubscribe", secondary=True),
                lang,
            )
        title = "수신 거부" if ko else "Unsubscribe"
        text = (
            f"<p>{who} 주소로 {html.escape(settings.name)} ({name}) 메일을 그만 받으시겠어요?</p>"
            if ko
            else f"<p>Stop sending {html.escape(settings.name)} ({name}) to {who}?</p>"
        )
        return page(title, text + button("unsubscribe", "수신 거부" if ko else "Unsubscribe"), lang)

    async def unsubscribe_post(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            body = await read_body(request, FORM_LIMIT)
        except TooLarge:
            return PlainTextResponse("request body too large\n", status_code=413)
        fields = form_fields(request.headers.get("content-type", ""), body)
        if looks_like_test_token(token):
            return test_copy(token, one_click=fields.get("List-Unsubscribe") == "One-Click")
        try:
            target = await run_in_threadpool(_target, store, secret, token)
        except NewsletterError as exc:
            if fields.get("List-Unsubscribe") == "One-Click":
                return PlainTextResponse(f"{exc.message}\n", status_code=400)
            return bad_link(exc.message)
        if fields.get("List-Unsubscribe") == "One-Click":
            # RFC 8058: the mail client's one-click request; answer 200, no redirect.
            await run_in_threadpool(_unsubscribe, store, secret, token)
            return PlainTextResponse("unsubscribed\n", headers={"Cache-Control": "no-store"})
        who = html.escape(mask(target.subscriber.email))
        name = html.escape(target.mailing_list.name)
        if fields.get("action") == "resubscribe":
            try:
                await run_in_threadpool(
                    resubscribe, store, target.subscriber.email, target.mailing_list.name
                )
            except NewsletterError as exc:
                # exc.message is for the publisher: it names the full address and CLI options.
                log.info("resubscribe refused for %s: %s", target.subscriber.id, exc.message)
                title = "다시 구독할 수 없습니다" if ko else "Not resubscribed"
                text = (
                    f"<p>{who} 주소로 보낸 메일이 반송되었거나 스팸으로 신고되어 "
                    "여기서는 다시 구독할 수 없습니다. 이메일에 답장해 주시면 도와드리겠습니다.</p>"
                    if ko
                    else f"<p>Mail to {who} bounced or was reported as spam, so it cannot be "
                    "resubscribed here. Reply to the email and we will help.</p>"
                )
                return page(title, text, lang, 409)
            title = "다시 구독되었습니다" if ko else "You are subscribed again"
            text = (
                f"<p>{who} 주소로 {name} 메일을 다시 보내 드립니다.</p>"
                if ko
                else f"<p>{who} will receive {name} again.</p>"
            )
            return page(title, text, lang)
        if fields.get("action") != "unsubscribe":
            # Neither the RFC 8058 body nor our page's button: change nothing.
            return PlainTextResponse(
                "expected List-Unsubscribe=One-Click or the page's form\n", status_code=400
            )
        await run_in_threadpool(_unsubscribe, store, secret, token)
        title = "수신 거부되었습니다" if ko else "You are unsubscribed"
        text = (
            f"<p>{who} 주소로 더 이상 {name} 메일을 보내지 않습니다.</p>"
            '<p class="muted">실수로 누르셨다면 다시 구독할 수 있습니다.</p>'
            if ko
            else f"<p>{who} will no longer receive {name}.</p>"
            '<p class="muted">Did that by mistake? You can subscribe again.</p>'
        )
        return page(
            title,
            text + button("resubscribe", "다시 구독하기" if ko else "Resubscribe", secondary=True),
            lang,
        )

    return [
        Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
        Route("/unsubscribe/{token}", unsubscribe_post, methods=["POST"]),
    ]
