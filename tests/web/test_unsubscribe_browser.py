"""The unsubscribe pages in a real headless chromium: the link from a real message's
List-Unsubscribe header, the preference page, its button for the link's list, and the
way back (the other states: test_preferences_browser.py).

Screenshots go to /tmp/newsletter-unsubscribe-*.png for a human look (never committed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from pipeline.db import Store
from pipeline.feedback.sns_verify import SnsVerifier
from pipeline.settings import load_settings
from pipeline.web.app import create_app, mask
from tests.support import db
from tests.support.sending import make_list, ok, send, use_ses
from tests.support.ses_stub import SesStub
from tests.support.sns_fixtures import LOOPBACK_HOSTS, TOPIC_ARN

pytestmark = pytest.mark.browser

READER = "reader@example.com"
MEMBERS = [(READER, "독자"), ("other@example.com", "다른 독자")]
SCREENSHOTS = Path("/tmp")


@dataclass
class Site:
    base_url: str
    url: str  # the database the app serves
    links: dict[str, str]  # address -> the URL in its List-Unsubscribe header, as sent

    def local(self, link: str) -> str:
        """`link` with its public base (https://weekly.example.com) swapped for the test
        server's: what the publisher's proxy does."""
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == "https://weekly.example.com", link
        return self.base_url + parts.path

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in db.rows(sql, *params, url=self.url)]

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return {
            table: self.query(f"SELECT * FROM {table} ORDER BY 1, 2")
            for table in ("subscribers", "memberships", "suppressions", "events")
        }

    def membership(self, email: str, list_name: str = "weekly") -> str:
        (row,) = self.query(
            "SELECT m.status FROM memberships m JOIN subscribers s ON s.id = m.subscriber_id "
            "JOIN lists l ON l.id = m.list_id WHERE s.email_key = ? AND l.name = ?",
            email,
            list_name,
        )
        return row[0]


def start_app(project: Path, serve_app) -> tuple[str, Store]:
    store = Store.open(os.environ["NEWSLETTER_DATABASE_URL"])
    verifier = SnsVerifier([TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS)
    app = create_app(load_settings(), store, issues=project / "issues", verifier=verifier)
    return serve_app(app), store


@pytest.fixture
def site(project: Path, cli, serve_app, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    """Issue 25 sent to `weekly` through the SES stub, and the web app serving the DB."""
    with SesStub() as stub:
        use_ses(monkeypatch, stub.endpoint_url)
        make_list(cli, "weekly", MEMBERS)
        ok(send(cli))
        links = {}
        for message in stub.accepted:
            header = message.headers["List-Unsubscribe"]
            (url,) = [p.strip(" <>") for p in header.split(",") if "https://" in p]
            links[message.recipient_addresses[0]] = url
    base_url, store = start_app(project, serve_app)
    yield Site(base_url, os.environ["NEWSLETTER_DATABASE_URL"], links)
    store.close()


@pytest.fixture
def page(browser) -> Iterator[Any]:
    """A fresh browser context (no cookies); fails the test on console errors (CSP
    violations are reported there)."""
    context = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 740})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.console_errors = errors
    yield tab
    assert context.cookies() == [], "the unsubscribe pages must not set cookies"
    context.close()


def test_unsubscribe_and_resubscribe_in_a_browser(site: Site, page) -> None:
    url = site.local(site.links[READER])
    before = site.snapshot()

    response = page.goto(url)
    assert response is not None and response.status == 200
    assert page.locator("html").get_attribute("lang") == "ko"
    assert page.title() == "수신 거부"
    assert page.get_by_role("heading", level=1).inner_text() == "수신 거부"
    body = page.locator("main").inner_text()
    assert mask(READER) in body and READER not in body
    assert "Article Weekly" in body and "weekly" in body
    buttons = page.get_by_role("button")
    assert buttons.count() == 2  # this list's, and leave-all
    button = page.get_by_role("button", name="수신 거부: weekly", exact=True)
    assert button.is_visible() and button.is_enabled()
    assert page.get_by_role("button", name="모든 목록에서 수신 거부", exact=True).is_visible()
    page.screenshot(path=str(SCREENSHOTS / "newsletter-unsubscribe-1-confirm.png"), full_page=True)
    assert site.snapshot() == before, "opening the link must not change anything"
    assert site.membership(READER) == "subscribed"

    with page.expect_navigation():
        button.click()
    assert page.url == url  # the form posts back to the same address: no redirect
    assert page.get_by_role("heading", level=1).inner_text() == "수신 거부되었습니다"
    assert mask(READER) in page.locator("main").inner_text()
    resubscribe = page.get_by_role("button", name="다시 구독하기: weekly", exact=True)
    assert page.get_by_role("button").count() == 1 and resubscribe.is_visible()
    page.screenshot(path=str(SCREENSHOTS / "newsletter-unsubscribe-2-done.png"), full_page=True)
    assert site.membership(READER) == "unsubscribed"
    assert site.membership("other@example.com") == "subscribed"

    with page.expect_navigation():
        resubscribe.click()
    assert page.get_by_role("heading", level=1).inner_text() == "다시 구독되었습니다"
    # back to the page's first state: leave this list, or leave all
    assert page.get_by_role("button").count() == 2
    assert page.get_by_role("button", name="수신 거부: weekly", exact=True).is_visible()
    page.screenshot(path=str(SCREENSHOTS / "newsletter-unsubscribe-3-back.png"), full_page=True)
    assert site.membership(READER) == "subscribed"

    # The keyboard works too: Tab reaches the button, Enter submits.
    page.goto(url)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "수신 거부: weekly"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.get_by_role("heading", level=1).inner_text() == "수신 거부되었습니다"
    assert site.membership(READER) == "unsubscribed"
    assert page.console_errors == []


def test_a_forged_link_shows_the_error_page(project: Path, cli, serve_app, page) -> None:
    ok(cli("lists", "create", "weekly"))
    base_url, store = start_app(project, serve_app)
    try:
        response = page.goto(f"{base_url}/unsubscribe/{'Q' * 44}")
        assert response is not None and response.status == 400
        assert page.get_by_role("heading", level=1).inner_text() == "잘못된 링크"
        text = page.locator("main").inner_text()
        assert "이 수신 거부 링크는 올바르지 않거나 더 이상 쓸 수 없습니다." in text
        assert "이메일에 있는 링크 전체를 복사해 주세요" in text and "token" not in text
        assert page.get_by_role("button").count() == 0
        page.screenshot(path=str(SCREENSHOTS / "newsletter-unsubscribe-4-forged.png"))
        # chromium logs the 400 itself; nothing else (no CSP violation) may appear
        assert [e for e in page.console_errors if "status of 400" not in e] == []
    finally:
        store.close()
