"""The web app behind `public_url` (`newsletter serve`): one-click unsubscribe (RFC 8058),
the unsubscribe pages, the SNS endpoint for SES events, and the web version of issues.

Meant to run behind the publisher's HTTPS proxy. No cookies, no sessions: the signed token
in the URL is the only credential, and a GET never changes anything (mail scanners follow
links).
"""

from __future__ import annotations

import email.parser
import email.policy
import html
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response
from starlette.routing import Route

from pipeline.audience.store import MailingList, Store, Subscriber
from pipeline.audience.subscribers import resubscribe, unsubscribe_by_token
from pipeline.audience.tokens import looks_like_test_token, verify_test_token, verify_token
from pipeline.delivery.sendlog import SendLog
from pipeline.errors import InputError, NewsletterError, NotFoundError
from pipeline.feedback import ingest as feedback
from pipeline.feedback import sns, sns_verify
from pipeline.settings import Settings
from pipeline.web.issues import IssueCache

log = logging.getLogger(__name__)

FORM_LIMIT = 8 * 1024  # an unsubscribe form is a few bytes
EVENT_LIMIT = 256 * 1024  # SNS messages are at most 256 KB
# An issue number in a URL: 18 digits stay below 2**63, the database's integer limit.
_ISSUE_NUMBER = re.compile(r"[0-9]{1,18}")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src https:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "Cache-Control": "no-store",
}


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


def _form(action: str, label: str, secondary: bool = False) -> str:
    kind = ' class="secondary"' if secondary else ""
    return (
        f'<form method="post"><input type="hidden" name="action" value="{action}">'
        f'<button type="submit"{kind}>{html.escape(label)}</button></form>'
    )


def create_app(
    settings: Settings,
    store: Store,
    *,
    issues: Path = Path("issues"),
    verifier: sns_verify.SnsVerifier | None = None,
) -> Starlette:
    secret = settings.require_secret_key()
    lang = settings.lang
    ko = lang.startswith("ko")
    verifier = verifier or sns_verify.SnsVerifier.from_settings(settings)
    web_issues = IssueCache(issues, settings)

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
                + _form("resubscribe", "다시 구독하기" if ko else "Resubscribe", secondary=True),
                lang,
            )
        title = "수신 거부" if ko else "Unsubscribe"
        text = (
            f"<p>{who} 주소로 {html.escape(settings.name)} ({name}) 메일을 그만 받으시겠어요?</p>"
            if ko
            else f"<p>Stop sending {html.escape(settings.name)} ({name}) to {who}?</p>"
        )
        return page(title, text + _form("unsubscribe", "수신 거부" if ko else "Unsubscribe"), lang)

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
            text + _form("resubscribe", "다시 구독하기" if ko else "Resubscribe", secondary=True),
            lang,
        )

    async def ses_events(request: Request) -> Response:
        try:
            body = await read_body(request, EVENT_LIMIT)
        except TooLarge:
            return PlainTextResponse("request body too large\n", status_code=413)
        try:
            message = sns.parse_envelope(body)
            verified = await run_in_threadpool(verifier.verify, message)
            if verified.replay:
                log.info(
                    "SNS message %s seen before; processing it again is harmless",
                    message.message_id,
                )
            if message.type == "SubscriptionConfirmation":
                done = await run_in_threadpool(
                    lambda: sns_verify.confirm_subscription(verified, fetch=verifier.fetch)
                )
                log.info("SNS subscription %s: %s", message.topic_arn, done.action)
                return PlainTextResponse(f"subscription {done.action}\n")
            if message.type != "Notification":
                return PlainTextResponse("ignored\n")
            result = await run_in_threadpool(feedback.process, store, sns.ses_events(message))
        except sns.SnsError as exc:
            log.warning("rejected an SNS request: %s", exc.message)
            return PlainTextResponse(f"{exc.message}\n", status_code=exc.status)
        except InputError as exc:
            return PlainTextResponse(f"{exc.message}\n", status_code=400)
        for change in result.changes if result else []:
            log.info("SES event: %s", change)
        return PlainTextResponse("duplicate\n" if result and result.duplicate else "ok\n")

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

    async def healthz(request: Request) -> Response:
        try:
            await run_in_threadpool(store.schema_version)
        except NewsletterError as exc:
            return PlainTextResponse(f"database: {exc.message}\n", status_code=503)
        return PlainTextResponse("ok\n")

    return Starlette(
        routes=[
            Route("/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
            Route("/unsubscribe/{token}", unsubscribe_post, methods=["POST"]),
            Route("/ses/events", ses_events, methods=["POST"]),
            Route("/issues/{number}", web_issue, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
        ]
    )
