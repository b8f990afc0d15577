"""`newsletter new`: the next issue's file from the last one, its `--link` articles headed
by the pages' own titles (fetched from servers on 127.0.0.1), never overwriting a file,
and passing `check`."""

from __future__ import annotations

import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.issue.source import read_issue
from tests.support.cli import SAMPLE_ISSUE, ok, refused

pytestmark = pytest.mark.single_backend  # files only, no store

PAGES = {
    "/og": '<html><head><title>Plain title</title><meta property="og:title" '
    'content="The &quot;Open Graph&quot; [title]"></head><body>x</body></html>',
    "/title": "<html><head><title>\n  검색 &amp; 캐시\t이야기  </title></head></html>",
    "/untitled": "<html><body><p>no title here</p></body></html>",
}
NEXT = "2024-06-29-article-weekly-26.md"  # the sample's name, its date and number moved on


@pytest.fixture
def site() -> Iterator[str]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            page = PAGES.get(self.path)
            body = (page or "<title>Not found</title>").encode()
            self.send_response(200 if page else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def last(project: Path) -> Path:
    return Path(shutil.copy(SAMPLE_ISSUE, project / "issues" / SAMPLE_ISSUE.name))


def test_the_next_issue_follows_the_last_one_and_passes_check(last: Path, cli) -> None:
    result = ok(cli("new"))
    path = last.parent / NEXT
    assert f"wrote {Path('issues') / NEXT}: issue 26, 2024-06-23 ~ 2024-06-29" in result.stderr
    issue, problems = read_issue(path)
    assert issue is not None and not problems
    assert (issue.number, issue.title, issue.lang) == (26, "Article Weekly, Issue 26", "ko")
    assert issue.period is not None
    assert (str(issue.period.start), str(issue.period.end)) == ("2024-06-23", "2024-06-29")
    assert [a.title for a in issue.articles] == ["아티클 제목"]  # a skeleton, in Korean
    ok(cli("check", last, path))


def test_each_link_is_an_article_headed_by_its_page_s_title(last: Path, cli, site: str) -> None:
    links = [f"{site}/og", f"{site}/title", f"{site}/untitled", f"{site}/missing"]
    result = ok(cli("new", *(arg for url in links for arg in ("--link", url))))
    issue, problems = read_issue(last.parent / NEXT)
    assert issue is not None and not problems
    assert [(a.title, a.url) for a in issue.articles] == [
        ('The "Open Graph" [title]', links[0]),  # Open Graph first, Markdown kept as text
        ("검색 & 캐시 이야기", links[1]),  # one line, entities read
        (links[2], links[2]),  # no title: the address, to be changed
        (links[3], links[3]),
    ]
    assert f"warning: {links[2]}: the page has no title" in result.stderr
    assert f"warning: {links[3]}: HTTP 404" in result.stderr
    ok(cli("check", last.parent / NEXT))


def test_a_link_that_never_answers_is_given_up_after_the_timeout(last: Path, cli) -> None:
    import socket

    with socket.socket() as silent:  # accepts the connection, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/slow"
        result = ok(cli("new", "--link", url, "--timeout", "0.3"))
    assert f"warning: {url}: no answer in time (timeout)" in result.stderr


def test_it_never_overwrites_a_file(last: Path, cli) -> None:
    taken = last.parent / NEXT
    taken.write_text("an editor's draft, not an issue yet\n", encoding="utf-8")
    refused(cli("new"), f"{Path('issues') / NEXT} exists already; nothing was written")
    assert taken.read_text(encoding="utf-8") == "an editor's draft, not an issue yet\n"


def test_a_link_that_is_not_http_is_refused_before_anything_is_written(last: Path, cli) -> None:
    refused(cli("new", "--link", "javascript:alert(1)"), "is not an http(s) URL")
    assert sorted(p.name for p in last.parent.iterdir()) == [SAMPLE_ISSUE.name]


def test_the_first_issue_of_a_new_newsletter(project: Path, cli) -> None:
    ok(cli("new"))
    (path,) = (project / "issues").iterdir()
    issue, problems = read_issue(path)
    assert issue is not None and not problems
    assert (issue.number, issue.title, issue.period) == (1, "Article Weekly #1", None)
