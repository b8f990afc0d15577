"""The public archive over real HTTP: `/issues`, `/issues/N` and `/feed.xml` after two
issues were sent for real through the SES stub; the feed read by feedparser."""

from __future__ import annotations

import html
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import feedparser
import httpx
import pytest

from pipeline.db import Store
from pipeline.settings import load_settings
from pipeline.web.app import create_app
from tests.support import archive as archive_fixtures
from tests.support import db
from tests.support.archive import (
    ARTICLE_25,
    PERIOD_25,
    PERIOD_26,
    PREHEADER_26,
    TITLE_25,
    TITLE_26,
    SentIssues,
    edit,
)
from tests.support.axe import assert_accessible, describe, violations

PUBLIC_URL = "https://weekly.example.com"  # newsletter.toml's
FEED_LINK = re.compile(r'<link rel="alternate" type="application/atom\+xml"[^>]* href="([^"]+)"')


# The two issues sent once per module and backend; each test gets a copy of the database.
sent_per_backend = archive_fixtures.sent_per_backend
sent_once = archive_fixtures.sent_once
database_url = archive_fixtures.database_url
sent = archive_fixtures.sent
client = archive_fixtures.client
site_url = archive_fixtures.site_url


def listed(page: str) -> list[tuple[str, str]]:
    """(link, title) of each issue on the index, in order."""
    found = re.findall(r'<h2><a href="([^"]+)">(.*?)</a></h2>', page)
    return [(href, html.unescape(title)) for href, title in found]


def test_the_index_lists_every_sent_issue_newest_first(
    client: httpx.Client, sent: SentIssues
) -> None:
    response = client.get("/issues")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert listed(page) == [("issues/26", TITLE_26), ("issues/25", TITLE_25)]
    text = html.unescape(page)
    assert PERIOD_25 in text and PERIOD_26 in text
    assert PREHEADER_26 in text  # escaped on the page, whole once unescaped
    assert "<캐시>" not in page and "&lt;캐시&gt;" in page
    day = sent.started[26]  # the date it went out (UTC: no `timezone` setting)
    assert (
        f'<time datetime="{day:%Y-%m-%d}">{day.year}년 {day.month}월 {day.day}일</time> 발송'
        in page
    )
    assert "issues/27" not in page  # a dry run is not in the archive
    # Each link leads to that issue's page under the web app's URLs.
    for href, title in listed(page):
        issue = client.get(urljoin(str(response.url), href))
        assert issue.status_code == 200
        assert "<h1" in issue.text and html.escape(title, quote=False) in issue.text


def test_the_date_shown_is_the_day_in_the_newsletters_time_zone(
    sent: SentIssues, project: Path, serve_app, backend: str
) -> None:
    start = datetime(2024, 6, 22, 23, 30, tzinfo=UTC)  # 08:30 on the 23rd in Seoul
    # As the store writes it: SQLite keeps naive UTC text.
    value = start.replace(tzinfo=None) if backend == "sqlite" else start
    db.execute("UPDATE campaigns SET started_at = ? WHERE issue_number = ?", value, 26)
    with Store.open(os.environ["NEWSLETTER_DATABASE_URL"]) as store:
        for timezone, shown in (("Asia/Seoul", "2024년 6월 23일"), (None, "2024년 6월 22일")):
            settings = load_settings(timezone=timezone)
            app = create_app(settings, store, issues=project / "issues")
            page = httpx.get(serve_app(app) + "/issues", timeout=10).text
            assert shown in page, timezone


def test_every_archive_page_links_the_feed(client: httpx.Client) -> None:
    for path in ("/issues", "/issues/25", "/issues/26"):
        response = client.get(path)
        (href,) = FEED_LINK.findall(response.text)
        assert urljoin(str(response.url), href) == str(client.base_url.join("/feed.xml"))


def test_an_issue_page_stays_as_it_was_sent_after_its_file_changes(
    client: httpx.Client, sent: SentIssues
) -> None:
    before = client.get("/issues/25").text
    assert ARTICLE_25 in before
    edit(sent.files[25], ARTICLE_25, "Something else entirely")
    after = client.get("/issues/25").text
    assert after == before
    assert "Something else entirely" not in after


def test_an_issue_sent_before_web_versions_were_kept_is_rendered_from_its_file(
    client: httpx.Client, sent: SentIssues
) -> None:
    db.execute("DELETE FROM web_versions WHERE issue_number = ?", 25)
    edit(sent.files[25], ARTICLE_25, "Edited in the file")
    page = client.get("/issues/25")
    assert page.status_code == 200 and "Edited in the file" in page.text
    assert [t for _, t in listed(client.get("/issues").text)] == [TITLE_26, TITLE_25]
    sent.files[25].unlink()  # and with no file either, it is gone from the archive
    assert client.get("/issues/25").status_code == 404
    assert [t for _, t in listed(client.get("/issues").text)] == [TITLE_26]


@pytest.mark.parametrize("number", ["27", "24", "abc", "25.0", "-25", "9223372036854775808"])
def test_an_issue_that_was_not_sent_is_not_found(client: httpx.Client, number: str) -> None:
    response = client.get(f"/issues/{number}")
    assert response.status_code == 404
    # The site's page for an address without one, and nothing of any issue.
    assert "<h1>페이지를 찾을 수 없습니다</h1>" in response.text
    assert "Issue 2" not in response.text and "Meta" not in response.text


def test_the_feed_is_atom_that_feedparser_reads(client: httpx.Client, sent: SentIssues) -> None:
    response = client.get("/feed.xml")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == "application/atom+xml"
    parsed = feedparser.parse(response.content)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    feed = parsed.feed
    assert feed.id == f"{PUBLIC_URL}/feed.xml"
    assert feed.title == "Article Weekly 지난 호"
    links = {link.rel: link.href for link in feed.links}
    assert links == {"self": f"{PUBLIC_URL}/feed.xml", "alternate": f"{PUBLIC_URL}/issues"}
    assert feed.author == "Article Weekly"
    entries = parsed.entries
    assert [e.id for e in entries] == [f"{PUBLIC_URL}/issues/26", f"{PUBLIC_URL}/issues/25"]
    assert [e.title for e in entries] == [TITLE_26, TITLE_25]
    assert [e.link for e in entries] == [e.id for e in entries]
    for entry, number in zip(entries, (26, 25), strict=True):
        started = sent.started[number].replace(microsecond=0)
        assert datetime(*entry.updated_parsed[:6], tzinfo=UTC) == started
        assert datetime(*entry.published_parsed[:6], tzinfo=UTC) == started
        (content,) = entry.content
        assert content.type == "text/html"
        assert "<h1" in content.value
    assert entries[0].summary == PREHEADER_26
    assert html.escape(TITLE_26, quote=False) in entries[0].content[0].value
    assert ARTICLE_25 in entries[1].content[0].value
    updated = datetime(*feed.updated_parsed[:6], tzinfo=UTC)
    assert updated == sent.started[26].replace(microsecond=0)


def test_the_feed_shows_the_versions_as_sent(client: httpx.Client, sent: SentIssues) -> None:
    edit(sent.files[25], ARTICLE_25, "Something else entirely")
    parsed = feedparser.parse(client.get("/feed.xml").content)
    assert ARTICLE_25 in parsed.entries[1].content[0].value


# --- in a real browser: axe-core's WCAG 2 A and AA rules -----------------------------------

# Beyond WCAG A/AA: what a screen reader needs to find its way on a page of its own.
LANDMARK_RULES = {"landmark-one-main", "page-has-heading-one", "landmark-no-duplicate-main"}


def assert_page_has_its_landmarks(page: Any, what: str) -> None:
    found = [v for v in violations(page, tags=["best-practice"]) if v["id"] in LANDMARK_RULES]
    assert not found, f"{what}: {describe(found)}"


@pytest.mark.browser
@pytest.mark.parametrize("path", ["/issues", "/issues/25", "/issues/26"])
def test_archive_pages_pass_axe(site_url: str, browser: Any, path: str) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        response = page.goto(site_url + path)
        assert response is not None and response.status == 200
        assert page.locator("h1").count() == 1
        assert page.locator("main").count() == 1
        assert_accessible(page, path)
        assert_page_has_its_landmarks(page, path)
        # The same in dark mode: the pages have dark styles of their own.
        page.emulate_media(color_scheme="dark")
        assert_accessible(page, f"{path} in dark mode")
    finally:
        context.close()


@pytest.mark.browser
def test_a_reader_goes_from_the_index_to_an_issue(site_url: str, browser: Any) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(site_url + "/issues")
        page.get_by_role("link", name=TITLE_26).click()
        page.wait_for_url("**/issues/26")
        assert page.get_by_role("heading", level=1).inner_text() == TITLE_26
    finally:
        context.close()


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/issues/", "/issues"),
        ("/issues/25/", "/issues/25"),
        ("/issues/25/?utm=x", "/issues/25?utm=x"),
        ("/feed.xml/", "/feed.xml"),
    ],
)
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8443", "127.0.0.1"])
def test_a_trailing_slash_redirects_to_public_url_whatever_the_host_header(
    client: httpx.Client, path: str, target: str, host: str
) -> None:
    response = client.get(path, headers={"Host": host})
    assert response.status_code == 307
    assert response.headers["location"] == load_settings().public_url.rstrip("/") + target
    assert "evil" not in response.headers["location"]


def test_a_trailing_slash_on_a_path_that_is_not_a_page_is_not_found(client: httpx.Client) -> None:
    response = client.get("/nowhere/", headers={"Host": "evil.example"})
    assert response.status_code == 404 and "location" not in response.headers
