"""`newsletter archive --out DIR`: the archive as a static site, after two real sends; the
same pages as the web app's, the feed read by feedparser, and the files opened in a real
browser straight from the disk (file://)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest

from tests.support import archive as archive_fixtures
from tests.support import db
from tests.support.archive import (
    ARTICLE_25,
    TITLE_25,
    TITLE_26,
    SentIssues,
    edit,
)
from tests.support.axe import assert_accessible
from tests.support.cli import Result, ok, refused
from tests.support.sending import Cli

PUBLIC_URL = "https://weekly.example.com"  # newsletter.toml's
SITE_FILES = [
    "feed.xml",
    "index.html",
    "issues/25/index.html",
    "issues/26/index.html",
    "issues/index.html",
]


# The two issues sent once per module and backend; each test gets a copy of the database.
sent_per_backend = archive_fixtures.sent_per_backend
sent_once = archive_fixtures.sent_once
database_url = archive_fixtures.database_url
sent = archive_fixtures.sent
client = archive_fixtures.client


def files_of(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())


def archive(cli: Cli, out: Path | str) -> Result:
    return cli("archive", "--out", out)


def test_archive_writes_the_index_each_issue_and_the_feed(
    cli: Cli, sent: SentIssues, project: Path
) -> None:
    result = ok(archive(cli, "site"))
    site = project / "site"
    assert files_of(site) == SITE_FILES
    for name in SITE_FILES:
        assert name in result.stderr
    assert "2 issue(s), 5 files" in result.stderr
    assert f"{PUBLIC_URL}/feed.xml" in result.stderr
    # Written beside the target and renamed into place: nothing is left behind.
    assert sorted(p.name for p in project.iterdir() if p.name.startswith(".")) == []


def test_the_files_are_the_web_apps_pages_with_links_to_files(
    cli: Cli, sent: SentIssues, project: Path, client: httpx.Client
) -> None:
    ok(archive(cli, "site"))
    site = project / "site"
    for number in (25, 26):
        page = (site / f"issues/{number}/index.html").read_text(encoding="utf-8")
        served = client.get(f"/issues/{number}").text
        assert 'href="../index.html"' in page and 'href="../../feed.xml"' in page
        # The only differences: the links to the list, the feed and the other issue
        # name files.
        as_served = page.replace('href="../index.html"', f'href="{PUBLIC_URL}/issues"')
        as_served = as_served.replace('href="../../feed.xml"', 'href="../feed.xml"')
        as_served = re.sub(r'href="\.\./(\d+)/index\.html"', r'href="\1"', as_served)
        assert as_served == served
    home = (site / "index.html").read_text(encoding="utf-8")
    assert home.replace("/index.html", "") == client.get("/").text
    inner = (site / "issues/index.html").read_text(encoding="utf-8")
    assert 'href="26/index.html"' in inner and 'href="../feed.xml"' in inner
    assert (site / "feed.xml").read_bytes() == client.get("/feed.xml").content


def test_the_feed_file_points_at_the_public_url(cli: Cli, sent: SentIssues, project: Path) -> None:
    ok(archive(cli, "site"))
    parsed = feedparser.parse((project / "site" / "feed.xml").read_bytes())
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert [e.title for e in parsed.entries] == [TITLE_26, TITLE_25]
    assert [e.link for e in parsed.entries] == [f"{PUBLIC_URL}/issues/{n}" for n in (26, 25)]
    assert {link.href for link in parsed.feed.links} == {
        f"{PUBLIC_URL}/feed.xml",
        f"{PUBLIC_URL}/issues",
    }


def test_the_site_shows_each_issue_as_it_was_sent(
    cli: Cli, sent: SentIssues, project: Path
) -> None:
    edit(sent.files[25], ARTICLE_25, "Changed after the send")
    ok(archive(cli, "site"))
    page = (project / "site/issues/25/index.html").read_text(encoding="utf-8")
    assert ARTICLE_25 in page and "Changed after the send" not in page


def test_a_second_run_replaces_the_earlier_archive_whole(
    cli: Cli, sent: SentIssues, project: Path
) -> None:
    ok(archive(cli, "site"))
    stale = project / "site/issues/99/index.html"
    stale.parent.mkdir()
    stale.write_text("an issue that is no longer in the archive", encoding="utf-8")
    result = ok(archive(cli, "site"))
    assert "replaced the archive in" in result.stderr
    assert files_of(project / "site") == SITE_FILES


def test_a_folder_of_other_files_is_never_replaced(
    cli: Cli, sent: SentIssues, project: Path
) -> None:
    refused(archive(cli, "."), "holds files the archive did not write", "newsletter.toml")
    assert (project / "newsletter.toml").exists() and (project / "issues").is_dir()
    other = project / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine", encoding="utf-8")
    refused(archive(cli, other), "notes.txt")
    assert files_of(other) == ["notes.txt"]
    (project / "a-file").write_text("x", encoding="utf-8")
    refused(archive(cli, project / "a-file"), "is not a folder")


def test_an_unwritable_place_is_a_clean_error(cli: Cli, sent: SentIssues) -> None:
    refused(archive(cli, "/proc/newsletter-archive"), "cannot write beside")


def test_with_nothing_sent_the_site_says_so(cli: Cli, sent: SentIssues, project: Path) -> None:
    for table in ("web_versions", "deliveries", "senders", "campaigns"):
        db.execute(f"DELETE FROM {table}")
    ok(archive(cli, "site"))
    assert files_of(project / "site") == ["feed.xml", "index.html", "issues/index.html"]
    assert "아직 보낸 호가 없습니다." in (project / "site/index.html").read_text(encoding="utf-8")
    parsed = feedparser.parse((project / "site/feed.xml").read_bytes())
    assert parsed.bozo == 0 and parsed.entries == []


@pytest.mark.browser
def test_the_site_works_from_the_disk_in_a_browser(
    cli: Cli, sent: SentIssues, project: Path, browser: Any
) -> None:
    ok(archive(cli, "site"))
    site = project / "site"
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto((site / "index.html").as_uri())
        assert_accessible(page, "the static index")
        assert page.get_by_role("heading", level=1).count() == 1
        page.get_by_role("link", name=TITLE_26).click()
        page.wait_for_url("**/issues/26/index.html")
        assert page.get_by_role("heading", level=1).inner_text() == TITLE_26
        assert_accessible(page, "a static issue page")
        page.get_by_role("link", name="지난 호 모두 보기").click()
        page.wait_for_url((site / "issues" / "index.html").as_uri())
        feed = page.locator('link[rel="alternate"][type="application/atom+xml"]')
        href = feed.evaluate("link => link.href")
        assert href == (site / "feed.xml").as_uri()
        page.goto((site / "issues" / "index.html").as_uri())
        page.get_by_role("link", name=TITLE_25).click()
        page.wait_for_url("**/issues/25/index.html")
        assert page.get_by_role("heading", level=1).inner_text() == TITLE_25
    finally:
        context.close()


def test_out_onto_a_symlink_replaces_its_folder_and_leaves_nothing_behind(
    cli: Cli, sent: SentIssues, project: Path
) -> None:
    releases = project / "releases"
    releases.mkdir()
    ok(archive(cli, releases / "site"))
    (project / "site").symlink_to(releases / "site", target_is_directory=True)
    for _ in range(2):
        result = ok(archive(cli, "site"))
        assert "replaced the archive in" in result.stderr
    assert (project / "site").is_symlink()
    assert (project / "site").resolve() == (releases / "site").resolve()
    assert files_of(project / "site") == SITE_FILES
    leftovers = [p.name for folder in (project, releases) for p in folder.iterdir()]
    assert not [name for name in leftovers if name.startswith(".")], leftovers
