"""The web app behind `public_url` (`newsletter serve`), over real HTTP on 127.0.0.1.

One campaign is sent once per module and backend through the SES stub; each test gets a
copy of that database, the app served by uvicorn, and a loopback HTTPS server playing SNS,
so tokens come from real List-Unsubscribe headers and SES events name real message ids.
"""

from __future__ import annotations

import base64
import html
import json
import os
import secrets
import shutil
import socket
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa

from pipeline.audience.queries import AudienceTx, recipients
from pipeline.audience.subscribers import add, create_list
from pipeline.audience.tokens import make_token
from pipeline.db import Store
from pipeline.feedback.sns_verify import SnsVerifier
from pipeline.issue.source import read_issue
from pipeline.settings import load_settings
from pipeline.web.app import create_app, mask
from tests.support import db
from tests.support.cli import ROOT, SAMPLE_ISSUE, TEST_SECRET, run_cli, use_project
from tests.support.sending import deliveries, make_list, ok, people, refused, send, use_ses
from tests.support.ses_stub import SesStub
from tests.support.sns_fixtures import (
    CERT_PATH,
    LOOPBACK_HOSTS,
    OTHER_TOPIC_ARN,
    TOPIC_ARN,
    SnsTestServer,
    bounce_permanent,
    bounce_transient,
    complaint,
    delivery,
    new_signing_key,
    notification,
    self_signed_certificate,
    sign,
    subscription_confirmation,
    to_body,
)

MEMBERS = [*people(3), ("mallory@example.com", "<script>alert('name')</script>")]
READER, SECOND, THIRD, MALLORY = (email for email, _ in MEMBERS)
TABLES = ("subscribers", "memberships", "suppressions", "events", "deliveries")
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


# --- one real campaign per module ----------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    url: str  # the database the campaign was sent from (each test works on a copy)
    folder: Path  # the project folder it was sent from
    message_ids: dict[str, str]  # address -> SES message id of their copy of issue 25
    links: dict[str, str]  # address -> the https URL in their List-Unsubscribe header


def list_unsubscribe_url(header: str) -> str:
    (url,) = [part.strip(" <>") for part in header.split(",") if "https://" in part]
    return url


@pytest.fixture(scope="module")
def sent_per_backend() -> dict[str, Sent]:
    """The campaign of each backend, sent once per module (on the first test that needs it)."""
    return {}


@pytest.fixture
def sent(
    backend: str,
    sent_per_backend: dict[str, Sent],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> Sent:
    if backend not in sent_per_backend:
        folder = tmp_path_factory.mktemp(f"sent-{backend}")
        url = db.fresh_database(backend, folder, request)
        sent_per_backend[backend] = send_issue_25(folder, url)
    return sent_per_backend[backend]


def send_issue_25(folder: Path, url: str) -> Sent:
    """Issue 25 sent to `weekly` (everyone); `announcements` holds the first two too."""
    shutil.copy(ROOT / "newsletter.toml", folder / "newsletter.toml")
    with pytest.MonkeyPatch.context() as mp, SesStub() as stub:
        use_project(mp, folder, url)
        use_ses(mp, stub.endpoint_url)
        make_list(run_cli, "weekly", MEMBERS)
        make_list(run_cli, "announcements", MEMBERS[:2])
        ok(send(run_cli))
        # Issue 26 only ever went out as a dry run: it has no web version yet.
        (folder / "issues").mkdir()
        shutil.copy(SAMPLE_ISSUE, folder / "issues" / SAMPLE_ISSUE.name)
        text = SAMPLE_ISSUE.read_text(encoding="utf-8").replace("number: 25", "number: 26")
        dry = folder / "issues" / "2024-06-29-article-weekly-26.md"
        dry.write_text(text, encoding="utf-8")
        ok(run_cli("send", dry, "--list", "weekly", "--yes", "--dry-run"))
        rows = deliveries()
        links = {
            message.recipient_addresses[0]: list_unsubscribe_url(
                message.headers["List-Unsubscribe"]
            )
            for message in stub.accepted
        }
    assert set(links) == {email for email, _ in MEMBERS}
    return Sent(
        url,
        folder,
        {email: row["message_id"] for email, row in rows.items()},
        links,
    )


# --- the app, per test ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def signing_key() -> rsa.RSAPrivateKey:
    return new_signing_key()


@pytest.fixture(scope="module")
def other_key() -> rsa.RSAPrivateKey:
    return new_signing_key()


@dataclass
class Web:
    client: httpx.Client
    sns: SnsTestServer
    sent: Sent
    url: str  # the test's copy of the sent database
    key: rsa.RSAPrivateKey

    def path(self, email: str) -> str:
        """The unsubscribe path of `email`'s real message (its https base dropped)."""
        return urlsplit(self.sent.links[email]).path

    def token(self, email: str) -> str:
        return self.path(email).rsplit("/", 1)[1]

    def signed(self, event: dict[str, Any] | str, **options: Any) -> dict[str, Any]:
        """An SNS Notification carrying `event`, signed with the trusted key."""
        return sign(notification(event, cert_url=self.sns.cert_url, **options), self.key)

    def post_sns(self, envelope: dict[str, Any] | bytes) -> httpx.Response:
        body = envelope if isinstance(envelope, bytes) else to_body(envelope)
        kind = "Notification" if isinstance(envelope, bytes) else envelope["Type"]
        headers = {"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": kind}
        return self.client.post("/ses/events", content=body, headers=headers)

    # the database, read directly
    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in db.rows(sql, *params, url=self.url)]

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return {table: self.query(f"SELECT * FROM {table} ORDER BY 1, 2") for table in TABLES}

    def status(self, email: str) -> str | None:
        rows = self.query("SELECT status FROM subscribers WHERE email_key = ?", email.lower())
        return rows[0][0] if rows else None

    def membership(self, email: str, list_name: str) -> str | None:
        rows = self.query(
            "SELECT m.status FROM memberships m JOIN subscribers s ON s.id = m.subscriber_id "
            "JOIN lists l ON l.id = m.list_id WHERE s.email_key = ? AND l.name = ?",
            email.lower(),
            list_name,
        )
        return rows[0][0] if rows else None

    def events(self) -> list[tuple[Any, ...]]:
        return self.query(
            "SELECT event_type, message_id, delivery_id IS NOT NULL, bounce_type FROM events"
        )


@pytest.fixture
def database_url(backend: str, sent: Sent, tmp_path: Path) -> str:
    """Each test's database: a copy of the sent one (for `project`, which uses it)."""
    if backend == "postgresql":
        return db.copy_postgres_database(sent.url)
    # A consistent copy of a WAL-mode database (the backup API, not a file copy).
    target = tmp_path / "test.db"
    src = sqlite3.connect(sa.make_url(sent.url).database or "")
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    return f"sqlite:///{target}"


@pytest.fixture(scope="module")
def sns_server(signing_key: rsa.RSAPrivateKey) -> Iterator[SnsTestServer]:
    """sns.<region>.amazonaws.com on loopback, serving the certificate of `signing_key`
    (one per module: stopping it costs half a second)."""
    with SnsTestServer(certificate=self_signed_certificate(signing_key)) as server:
        yield server


@pytest.fixture
def start_web(
    project: Path, sent: Sent, asgi_client, sns_server: SnsTestServer, signing_key
) -> Iterator[Callable[..., Web]]:
    """Start the app on a copy of the sent database (`database_url`); keyword arguments
    override settings."""
    shutil.copytree(sent.folder / "issues", project / "issues", dirs_exist_ok=True)
    sns_server.hits.clear()
    sns_server.confirmations.clear()
    opened: list[tuple[Store, httpx.Client]] = []

    def start(**overrides: Any) -> Web:
        store = Store.open(os.environ["NEWSLETTER_DATABASE_URL"])
        # A verifier per app: its certificate cache starts empty in every test.
        verifier = SnsVerifier(
            [TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS, ca_bundle=sns_server.ca_bundle
        )
        settings = load_settings(**overrides)
        app = create_app(settings, store, issues=project / "issues", verifier=verifier)
        client = asgi_client(app)
        opened.append((store, client))
        return Web(client, sns_server, sent, os.environ["NEWSLETTER_DATABASE_URL"], signing_key)

    yield start
    for store, client in opened:
        client.close()
        store.close()


@pytest.fixture
def web(start_web: Callable[..., Web]) -> Web:
    return start_web()


def assert_security_headers(response: httpx.Response) -> None:
    csp = response.headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, csp
    assert "form-action 'self'" in csp, csp
    assert response.headers.get("referrer-policy") == "no-referrer"
    assert "no-store" in response.headers.get("cache-control", "")
    assert response.headers.get("x-content-type-options") == "nosniff"
    assert "set-cookie" not in response.headers


# --- one-click unsubscribe (RFC 8058) ------------------------------------------------------


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_unsubscribes_from_that_list_only(web: Web, encoding: str) -> None:
    before = web.snapshot()
    assert web.membership(READER, "weekly") == "subscribed"
    assert web.membership(READER, "announcements") == "subscribed"

    def one_click() -> httpx.Response:
        if encoding == "urlencoded":
            return web.client.post(web.path(READER), data=ONE_CLICK)
        # a (None, value) file tuple makes httpx send multipart/form-data without a filename
        response = web.client.post(
            web.path(READER), files={"List-Unsubscribe": (None, "One-Click")}
        )
        assert response.request.headers["content-type"].startswith("multipart/form-data")
        return response

    response = one_click()
    assert response.status_code == 200, response.text
    assert "location" not in response.headers and not response.is_redirect
    assert "set-cookie" not in response.headers
    assert "cookie" not in response.request.headers  # nothing but the URL and the body
    assert web.membership(READER, "weekly") == "unsubscribed"
    assert web.membership(READER, "announcements") == "subscribed"
    assert web.status(READER) == "active"
    for email in (SECOND, THIRD, MALLORY):
        assert web.membership(email, "weekly") == "subscribed"
    after = web.snapshot()
    changed = [t for t in TABLES if before[t] != after[t]]
    assert changed == ["memberships"], changed

    again = one_click()
    assert again.status_code == 200 and "location" not in again.headers
    assert web.snapshot() == after  # idempotent: not even a timestamp moves


def test_one_click_answers_a_bad_token_in_plain_text(web: Web) -> None:
    before = web.snapshot()
    response = web.client.post("/unsubscribe/" + "A" * 44, data=ONE_CLICK)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert web.snapshot() == before


# --- the pages -----------------------------------------------------------------------------


def test_get_shows_a_confirmation_page_and_changes_nothing(web: Web) -> None:
    before = web.snapshot()
    for _ in range(3):  # a mail scanner may follow the link several times
        response = web.client.get(web.path(READER))
        assert response.status_code == 200
        assert web.client.head(web.path(READER)).status_code in (200, 405)
    assert web.snapshot() == before
    page = response.text
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="ko">' in page
    assert mask(READER) in page and mask(READER) == "re*******@example.com"
    assert READER not in page  # only the masked address
    assert "weekly" in page and "Article Weekly" in page
    # the preference page: a button for each of the reader's two lists, and leave-all
    assert page.count("<button") == 3 and page.count("<form") == 3
    assert page.count('<form method="post">') == 3
    assert 'aria-label="수신 거부: weekly"' in page
    assert 'aria-label="수신 거부: announcements"' in page
    assert 'name="action" value="leave-all"' in page
    assert "action=" not in page.replace('name="action"', "")  # posts back to this URL
    assert_security_headers(response)


def test_a_post_that_is_neither_one_click_nor_the_form_changes_nothing(web: Web) -> None:
    before = web.snapshot()
    for body in (b"", b"action=delete", b"List-Unsubscribe=Yes"):
        response = web.client.post(
            web.path(READER),
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 400
    assert web.snapshot() == before


def test_page_unsubscribe_then_resubscribe(web: Web) -> None:
    response = web.client.post(web.path(SECOND), data={"action": "unsubscribe"})
    assert response.status_code == 200 and "location" not in response.headers
    assert "수신 거부되었습니다" in response.text and mask(SECOND) in response.text
    # weekly now offers the way back; announcements (and leaving all) are still there
    assert 'aria-label="다시 구독하기: weekly"' in response.text
    assert 'aria-label="수신 거부: weekly"' not in response.text
    assert 'aria-label="수신 거부: announcements"' in response.text
    assert response.text.count("<button") == 3
    assert_security_headers(response)
    assert web.membership(SECOND, "weekly") == "unsubscribed"
    assert web.membership(SECOND, "announcements") == "subscribed"

    # The link still works afterwards and now offers the way back for its list.
    again = web.client.get(web.path(SECOND))
    assert again.status_code == 200 and 'aria-label="다시 구독하기: weekly"' in again.text
    assert 'aria-label="수신 거부: weekly"' not in again.text

    back = web.client.post(web.path(SECOND), data={"action": "resubscribe"})
    assert back.status_code == 200
    assert "다시 구독되었습니다" in back.text and mask(SECOND) in back.text
    assert_security_headers(back)
    assert web.membership(SECOND, "weekly") == "subscribed"
    assert web.status(SECOND) == "active"


def test_english_pages(start_web: Callable[..., Web]) -> None:
    web = start_web(lang="en")
    page = web.client.get(web.path(READER))
    assert '<html lang="en">' in page.text and "<h1>Unsubscribe</h1>" in page.text
    done = web.client.post(web.path(READER), data={"action": "unsubscribe"})
    assert "You are unsubscribed" in done.text and ">Resubscribe</button>" in done.text
    back = web.client.post(web.path(READER), data={"action": "resubscribe"})
    assert "You are subscribed again" in back.text


@pytest.mark.parametrize(
    "event, status", [(bounce_permanent, "bounced"), (complaint, "complained")]
)
def test_resubscribe_is_refused_after_a_bounce_or_complaint(web: Web, event, status: str) -> None:
    response = web.post_sns(web.signed(event(web.sent.message_ids[THIRD], THIRD)))
    assert response.status_code == 200, response.text
    assert web.status(THIRD) == status
    before = web.snapshot()
    refused_page = web.client.post(web.path(THIRD), data={"action": "resubscribe"})
    assert 400 <= refused_page.status_code < 500
    assert "<button" not in refused_page.text
    assert THIRD not in refused_page.text  # the full address is not shown, masked or not
    assert "--force" not in refused_page.text  # a CLI hint means nothing to a reader
    assert '<html lang="ko">' in refused_page.text and mask(THIRD) in refused_page.text
    assert "다시 구독할 수 없습니다" in refused_page.text
    assert_security_headers(refused_page)
    assert web.snapshot() == before
    assert web.status(THIRD) == status


def tampered(token: str) -> str:
    i = len(token) // 2
    return token[:i] + ("B" if token[i] != "B" else "C") + token[i + 1 :]


@pytest.mark.parametrize("kind", ["forged", "tampered", "forgotten", "garbage"])
def test_a_bad_token_is_refused_and_changes_nothing(web: Web, cli, kind: str) -> None:
    if kind == "forged":
        token = base64.urlsafe_b64encode(secrets.token_bytes(33)).decode()
    elif kind == "tampered":
        token = tampered(web.token(READER))
    elif kind == "forgotten":
        ok(cli("subscribers", "forget", READER))
        token = web.token(READER)
    else:
        token = "%3Cscript%3Ealert(1)%3C%5Cscript%3E"  # no "/": that would be another route
    assert kind == "garbage" or len(token) == 44
    before = web.snapshot()
    for response in (
        web.client.get(f"/unsubscribe/{token}"),
        web.client.post(f"/unsubscribe/{token}", data={"action": "unsubscribe"}),
        web.client.post(f"/unsubscribe/{token}", data={"action": "resubscribe"}),
        web.client.post(f"/unsubscribe/{token}", data=ONE_CLICK),
    ):
        assert response.status_code == 400, (response.request, response.text)
        assert "<script>" not in response.text and "<button" not in response.text
        if response.headers["content-type"].startswith("text/html"):
            assert "잘못된 링크" in response.text
            # a plain sentence in the page's language, not the log's reason
            assert "이 수신 거부 링크는 올바르지 않거나" in response.text
            assert "token" not in response.text.lower()
            assert_security_headers(response)
    assert web.snapshot() == before


def test_an_oversized_body_is_refused(web: Web) -> None:
    before = web.snapshot()
    big = {"List-Unsubscribe": "One-Click", "padding": "x" * 9000}
    assert web.client.post(web.path(READER), data=big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the streamed size is what counts
        yield b"List-Unsubscribe=One-Click&padding="
        for _ in range(10):
            yield b"x" * 1024

    response = web.client.post(
        web.path(READER),
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert web.snapshot() == before
    assert web.membership(READER, "weekly") == "subscribed"


def test_names_are_escaped_on_the_pages(start_web: Callable[..., Web]) -> None:
    """A list name and the newsletter's name with markup in them come out as text; the
    subscriber's own name (markup too, see MEMBERS) is never shown at all."""
    evil_list = "<script>alert('list')</script>"
    evil_name = "Weekly <script>alert('newsletter')</script>"
    web = start_web(name=evil_name)
    with Store.open(os.environ["NEWSLETTER_DATABASE_URL"]) as store:
        create_list(store, evil_list)
        add(store, MALLORY, evil_list)
        with store.begin(AudienceTx, write=False) as tx:
            subscriber = tx.subscriber_by_key(MALLORY)
            mailing_list = tx.list_by_name(evil_list)
            assert subscriber is not None and mailing_list is not None
            token = make_token(TEST_SECRET.encode(), subscriber.id, mailing_list.id)
    path = f"/unsubscribe/{token}"
    pages = [
        web.client.get(path),
        web.client.post(path, data={"action": "unsubscribe"}),
        web.client.get(path),  # the "already unsubscribed" variant
        web.client.post(path, data={"action": "resubscribe"}),
    ]
    assert web.membership(MALLORY, evil_list) == "subscribed"
    for response in pages:
        assert response.status_code == 200, response.text
        assert "<script" not in response.text
        assert html.escape(evil_list) in response.text
        assert "alert('name')" not in response.text and "alert(&#x27;name" not in response.text
    assert html.escape(evil_name) in pages[0].text


# --- SES events over SNS -------------------------------------------------------------------


def test_a_permanent_bounce_marks_the_subscriber_bounced_once(web: Web) -> None:
    message_id = web.sent.message_ids[READER]
    envelope = web.signed(bounce_permanent(message_id, READER))
    response = web.post_sns(envelope)
    assert response.status_code == 200, response.text
    assert web.status(READER) == "bounced"
    assert web.events() == [("Bounce", message_id, 1, "Permanent")]
    for email in (SECOND, THIRD, MALLORY):
        assert web.status(email) == "active"
    after = web.snapshot()

    again = web.post_sns(envelope)  # SNS redelivers when our answer was slow
    assert again.status_code == 200, again.text
    assert web.query("SELECT count(*) FROM events") == [(1,)]
    assert web.snapshot() == after


def test_a_complaint_marks_the_subscriber_complained(web: Web) -> None:
    message_id = web.sent.message_ids[SECOND]
    envelope = sign(
        notification(complaint(message_id, SECOND), cert_url=web.sns.cert_url), web.key, "2"
    )
    response = web.post_sns(envelope)
    assert response.status_code == 200, response.text
    assert web.status(SECOND) == "complained"
    assert web.events() == [("Complaint", message_id, 1, None)]
    with Store.open(os.environ["NEWSLETTER_DATABASE_URL"]) as store:
        for name in ("weekly", "announcements"):
            assert SECOND not in {r.email for r in recipients(store, name)}


def test_an_event_for_an_unknown_message_is_recorded_unmatched(web: Web) -> None:
    before = web.snapshot()
    stranger = "stranger@example.net"
    response = web.post_sns(web.signed(bounce_permanent("not-one-of-ours", stranger)))
    assert response.status_code == 200, response.text
    assert web.events() == [("Bounce", "not-one-of-ours", 0, "Permanent")]
    after = web.snapshot()
    assert {t for t in TABLES if before[t] != after[t]} == {"events"}


def _unsigned(web: Web, event: dict[str, Any], other: rsa.RSAPrivateKey) -> dict[str, Any]:
    return notification(event, cert_url=web.sns.cert_url)


def _tampered(web: Web, event: dict[str, Any], other: rsa.RSAPrivateKey) -> dict[str, Any]:
    envelope = web.signed(event)
    envelope["Message"] = envelope["Message"].replace("Transient", "Permanent")
    return envelope


def _other_key(web: Web, event: dict[str, Any], other: rsa.RSAPrivateKey) -> dict[str, Any]:
    return sign(notification(event, cert_url=web.sns.cert_url), other)


def _untrusted_host(web: Web, event: dict[str, Any], other: rsa.RSAPrivateKey) -> dict[str, Any]:
    # The same test server under a name it has a certificate for, but not a trusted one.
    return sign(
        notification(event, cert_url=f"https://localhost:{web.sns.port}{CERT_PATH}"), web.key
    )


def _unknown_topic(web: Web, event: dict[str, Any], other: rsa.RSAPrivateKey) -> dict[str, Any]:
    return web.signed(event, topic_arn=OTHER_TOPIC_ARN)


@pytest.mark.parametrize(
    "make",
    [_unsigned, _tampered, _other_key, _untrusted_host, _unknown_topic],
    ids=["unsigned", "tampered-message", "other-key", "untrusted-cert-host", "unknown-topic"],
)
def test_a_message_we_cannot_trust_is_refused(web: Web, other_key, make) -> None:
    event = bounce_transient(web.sent.message_ids[READER], READER)
    envelope = make(web, event, other_key)
    if make is _tampered:  # the signed text said Transient; the body now says Permanent
        assert '"bounceType": "Permanent"' in envelope["Message"]
    before = web.snapshot()
    response = web.post_sns(envelope)
    assert response.status_code == 403, response.text
    assert web.snapshot() == before
    assert web.status(READER) == "active"
    if make in (_untrusted_host, _unknown_topic, _unsigned):
        assert web.sns.hits == []  # refused before fetching anything


def test_a_subscription_confirmation_is_confirmed_once(web: Web) -> None:
    token = "f" * 64
    confirmation = sign(
        subscription_confirmation(web.sns.confirm_url(token), cert_url=web.sns.cert_url),
        web.key,
    )
    before = web.snapshot()
    response = web.post_sns(confirmation)
    assert response.status_code == 200, response.text
    assert web.sns.confirmations == [token]
    assert web.snapshot() == before


@pytest.mark.parametrize(
    "body, status",
    [
        (b"{not json", 400),
        (b"[1, 2, 3]", 400),
        (b'{"Type": "Notification"}', 400),
        (b'{"Type": "Notification", "MessageId": "' + b"x" * 300_000 + b'"}', 413),
    ],
    ids=["not-json", "not-an-object", "missing-fields", "too-large"],
)
def test_a_malformed_sns_request_is_refused(web: Web, body: bytes, status: int) -> None:
    before = web.snapshot()
    response = web.post_sns(body)
    assert response.status_code == status, response.text
    assert web.snapshot() == before


def _envelope_with(web: Web, **fields: str) -> bytes:
    """A complete SNS envelope (its signature junk) with `fields` as raw JSON text, so that
    only the hostile field can be what refuses it."""
    shaped = notification(delivery(), cert_url=web.sns.cert_url)
    shaped |= {"SignatureVersion": "1", "Signature": "c2lnbmVk"}
    parts = {key: json.dumps(value) for key, value in shaped.items()} | fields
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in parts.items()) + "}").encode()


HOSTILE_FIELDS: dict[str, dict[str, str]] = {
    "nan": {"Type": "NaN"},
    "infinity": {"Extra": "Infinity"},
    "minus-infinity": {"Extra": "-Infinity"},
    "overflowing-float": {"Extra": "1e999"},
    "5000-digits": {"Extra": "9" * 5_000},  # past int()'s 4,300-digit limit
    "lone-surrogate": {"MessageId": r'"\ud800"'},
    "lone-surrogate-in-a-key": {r"\udfff": '"key"'},
    "type-is-a-list": {"Type": '["Notification"]'},
    "type-is-an-object": {"Type": '{"Notification": 1}'},
    "5k-deep-in-a-field": {"Extra": "[" * 5_000 + "]" * 5_000},
}
HOSTILE_BODIES = {
    "100k-brackets": b"[" * 100_000,
    "40k-objects": b'{"a": ' * 40_000,
    "not-utf8": b'{"Type": "\xff"}',
}


@pytest.mark.parametrize("kind", [*HOSTILE_FIELDS, *HOSTILE_BODIES, "bom"])
def test_hostile_json_is_a_clean_400(web: Web, kind: str) -> None:
    if kind == "bom":
        body = b"\xef\xbb\xbf" + _envelope_with(web)
    elif kind in HOSTILE_BODIES:
        body = HOSTILE_BODIES[kind]
    else:
        body = _envelope_with(web, **HOSTILE_FIELDS[kind])
    before = web.snapshot()
    response = web.post_sns(body)
    assert response.status_code == 400, response.text
    assert web.snapshot() == before
    assert web.client.get("/healthz").status_code == 200  # and the app still answers


@pytest.mark.parametrize(
    "message",
    [
        "[" * 100_000,
        '{"eventType": "Bounce", "mail": ' * 1_000 + "{}" + "}" * 1_000,
        '{"eventType": "Bounce", "x": NaN}',
        '{"eventType": "Bounce", "mail": {"messageId": "\\ud800"}}',
        '{"eventType": ["Bounce"]}',
        '{"eventType": {"Bounce": 1}}',
        '"just a string"',
    ],
    ids=["100k-brackets", "1000-deep", "nan", "lone-surrogate", "list-type", "dict-type", "str"],
)
def test_a_signed_notification_with_hostile_json_inside_is_a_clean_400(
    web: Web, message: str
) -> None:
    before = web.snapshot()
    response = web.post_sns(web.signed(message))
    assert response.status_code == 400, response.text
    assert web.snapshot() == before


def test_sns_endpoint_takes_only_post(web: Web) -> None:
    assert web.client.get("/ses/events").status_code == 405


# --- web version and health ----------------------------------------------------------------


def test_the_web_version_of_a_sent_issue(web: Web) -> None:
    response = web.client.get("/issues/25")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = html.unescape(response.text)
    issue, _ = read_issue(SAMPLE_ISSUE, "ko")
    assert issue is not None and len(issue.articles) >= 5
    for article in issue.articles:
        assert article.title in page, article.title
    assert "/unsubscribe/" not in page
    assert "%%NL:" not in page
    for email, name in MEMBERS:
        assert email not in page and name not in page
    # Cached copies are fine; the page is the same for everyone.
    assert web.client.get("/issues/25").text == response.text


def test_the_web_version_stays_as_sent_after_an_edit_of_the_issue(web: Web, project: Path) -> None:
    """The page was stored when the campaign started (tests/web/test_archive.py has more)."""
    (path,) = [p for p in (project / "issues").glob("*.md") if "number: 25" in p.read_text()]
    first = web.client.get("/issues/25").text
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Experts vs. Imitators", "Experts vs. Imitators (fixed)"))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))
    second = web.client.get("/issues/25").text
    assert second == first and "Experts vs. Imitators (fixed)" not in html.unescape(second)


@pytest.mark.parametrize(
    "number",
    [
        "26",
        "24",
        "999999",
        "abc",
        "25.0",
        "-25",
        "9223372036854775808",  # 2**63: past the database's integers
        "99999999999999999999",
        "%C2%B2",  # "²": str.isdigit() says yes, int() says no
        "%D9%A2%D9%A5",  # Arabic-Indic "25": int() reads it as 25
    ],
    ids=[
        "dry-run-only",
        "no-file",
        "huge",
        "word",
        "decimal",
        "negative",
        "2**63",
        "20-digits",
        "superscript",
        "arabic-indic",
    ],
)
def test_an_issue_that_was_not_sent_is_not_found(web: Web, number: str) -> None:
    assert web.query("SELECT issue_number, dry_run FROM campaigns ORDER BY 1") == [
        (25, False),
        (26, True),
    ]
    response = web.client.get(f"/issues/{number}")
    assert response.status_code == 404
    # The site's page for an address without one, and nothing of any issue.
    assert "<h1>페이지를 찾을 수 없습니다</h1>" in response.text
    assert "Issue 2" not in response.text and "Meta" not in response.text


BROKEN_SIBLINGS = {
    "impossible-date": "---\ntitle: x\nnumber: 30\nperiod: {start: 2024-02-30, end: 2024-03-01}\n---\n",
    "bad-tag": '---\ntitle: x\nnumber: !!int "abc"\n---\n',
    "bad-time": "---\ntitle: x\nnumber: 31\nwhen: 25:61:00\n---\n",
    "deep-nesting": "---\ntitle: x\nnumber: 32\nextra: " + "[" * 50_000 + "\n---\n",
    "not-utf8": b"---\ntitle: \xff\xfe\nnumber: 33\n---\n",
    "huge": "---\ntitle: x\nnumber: 34\n---\n" + "x" * (9 * 1024 * 1024),
    "alias-bomb": "---\ntitle: x\nnumber: 35\nl0: &l0 [x, x, x, x, x, x, x, x, x]\n"
    + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 10))
    + "---\n",
}  # fmt: skip


@pytest.mark.parametrize("kind", [*BROKEN_SIBLINGS, "fifo"])
def test_a_broken_issue_file_does_not_affect_the_others(web: Web, project: Path, kind: str) -> None:
    path = project / "issues" / f"2024-01-01-{kind}.md"  # sorts before the good one
    if kind == "fifo":
        os.mkfifo(path)  # reading it would block forever
    else:
        content = BROKEN_SIBLINGS[kind]
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    for _ in range(2):  # and again, from the cache
        response = web.client.get("/issues/25")
        assert response.status_code == 200, response.text
        assert "Article Weekly" in response.text
    assert web.client.get("/issues/30").status_code == 404


def test_healthz(web: Web) -> None:
    response = web.client.get("/healthz")
    assert response.status_code == 200 and response.text.strip() == "ok"


# --- `newsletter serve` --------------------------------------------------------------------


def test_serve_help(cli) -> None:
    result = ok(cli("serve", "--help"))
    assert "--host" in result.stdout and "--port" in result.stdout


def test_serve_refuses_a_busy_port(project: Path, cli) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = refused(cli("serve", "--host", "127.0.0.1", "--port", str(port)), str(port))
    assert "--port" in result.stderr  # says what to do next


def test_access_logs_do_not_keep_working_unsubscribe_links() -> None:
    import logging

    from pipeline.web.server import RedactTokens

    token = "AQAAAAAAAAACAAAAAAAAAAGowK9-dB905NAvUPyKdO2q"
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:1", "POST", f"/unsubscribe/{token}", "1.1", 200), None,
    )  # fmt: skip
    assert RedactTokens().filter(record)
    line = record.getMessage()
    assert token not in line and '"POST /unsubscribe/… HTTP/1.1" 200' in line
    confirm = "AgAAAAAAAAAHAAAAAGdNLK1xB905NAvUPyKdO2qAbCdEfGh"
    record.args = ("127.0.0.1:1", "GET", f"/confirm/{confirm}", "1.1", 200)
    assert RedactTokens().filter(record)
    line = record.getMessage()
    assert confirm not in line and '"GET /confirm/… HTTP/1.1" 200' in line
