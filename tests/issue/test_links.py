"""The link checker against real HTTP servers on 127.0.0.1: one answer of each kind, each
reported at the link's line and column, and each URL fetched once."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.issue.links import Verdict, check_links, find_links
from pipeline.issue.problems import Problem, Severity
from pipeline.issue.source import Issue, read_issue
from tests.support.link_sites import LinkSites, link_sites


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[LinkSites]:
    with link_sites(tmp_path) as running:
        yield running


def _issue(tmp_path: Path, body: str, name: str = "links.md", number: int = 7) -> Issue:
    path = tmp_path / name
    path.write_text(f'---\ntitle: "Links"\nnumber: {number}\n---\n{body}', encoding="utf-8")
    issue, problems = read_issue(path)
    assert issue is not None and not problems, problems
    return issue


def _body(sites: LinkSites) -> str:
    h = sites.http
    return (
        f"Intro with [a shared page]({h}/ok/shared).\n"  # line 5
        "\n"
        f"## [Fine]({h}/ok)\n"  # line 7
        f"- see [the shared page]({h}/ok/shared) and ![a chart]({h}/missing)\n"  # line 8
        f"## [Moved]({h}/moved)\n"  # line 9
        "- x\n"
        f"## [Missing]({h}/missing)\n"  # line 11
        "- x\n"
        f"## [Broken server]({h}/error)\n"  # line 13
        "- x\n"
        f"## [Refuses HEAD]({h}/head-refused)\n"  # line 15
        "- x\n"
        f"## [Nobody home]({sites.closed}/ok)\n"  # line 17
        "- x\n"
        "## [No such name](https://no-such-host.invalid/page)\n"  # line 19
        "- x\n"
        f"## [Self-signed]({sites.https}/ok)\n"  # line 21
        "- x\n"
        f"## [Slow]({h}/slow)\n"  # line 23
        f"- x and [again]({h}/ok/shared) and [mail](mailto:a@example.com)\n"  # line 24
    )


def _at(problems: list[Problem], line: int) -> Problem:
    found = [p for p in problems if p.line == line]
    assert len(found) == 1, (line, problems)
    return found[0]


def test_every_kind_of_answer_is_reported_at_its_place(tmp_path: Path, sites: LinkSites) -> None:
    issue = _issue(tmp_path, _body(sites))
    (checked,) = check_links([issue], timeout=1.0)
    problems = checked.problems()
    lines = issue.text.split("\n")

    def col_of(line: int, needle: str) -> int:
        return lines[line - 1].index(needle) + 1

    moved = _at(problems, 9)
    assert moved.severity is Severity.WARNING and moved.col == col_of(9, "http://")
    assert f"redirects (301) to {sites.http}/ok" in moved.message

    missing = _at(problems, 11)
    assert missing.severity is Severity.ERROR and "HTTP 404 (not found)" in missing.message
    # the image on line 8, at its own column, named as an image
    image = _at(problems, 8)
    assert image.severity is Severity.ERROR and image.col == col_of(8, f"{sites.http}/missing")
    assert image.message.startswith(f"image {sites.http}/missing: HTTP 404")

    server_error = _at(problems, 13)
    assert server_error.severity is Severity.WARNING and "HTTP 500" in server_error.message

    refused = _at(problems, 17)
    assert refused.severity is Severity.WARNING and "connection refused" in refused.message

    dns = _at(problems, 19)
    assert dns.severity is Severity.ERROR and "does not exist (DNS)" in dns.message

    tls = _at(problems, 21)
    assert tls.severity is Severity.ERROR and "TLS certificate error" in tls.message
    assert "self-signed" in tls.message or "self signed" in tls.message

    slow = _at(problems, 23)
    assert slow.severity is Severity.WARNING and "timeout" in slow.message

    # Fine pages, a server that refuses HEAD but answers GET, and mailto: raise nothing.
    assert {p.line for p in problems} == {8, 9, 11, 13, 17, 19, 21, 23}
    assert checked.results[f"{sites.http}/head-refused"].verdict is Verdict.OK
    assert sites.requests[("HEAD", "/head-refused")] == 1
    assert sites.requests[("GET", "/head-refused")] == 1
    assert all(p.path == str(issue.path) for p in problems)


def test_a_server_that_hangs_up_on_head_is_asked_with_get(tmp_path: Path, sites: LinkSites) -> None:
    issue = _issue(tmp_path, f"## [Drops HEAD]({sites.http}/head-drops)\n- x\n")
    (checked,) = check_links([issue], timeout=5.0)
    assert checked.problems() == []
    assert sites.requests[("HEAD", "/head-drops")] == 1
    assert sites.requests[("GET", "/head-drops")] == 1


def test_a_shared_url_is_fetched_once(tmp_path: Path, sites: LinkSites) -> None:
    issue = _issue(tmp_path, _body(sites))
    links = [link for link in find_links(issue) if link.url.endswith("/ok/shared")]
    assert [link.line for link in links] == [5, 8, 24]
    other = _issue(tmp_path, f"## [Again]({sites.http}/ok/shared)\n- x\n", "other.md", 8)
    check_links([issue, other], timeout=1.0)
    # three links in one file and one in another: one request in all (a HEAD answered 200)
    assert sites.requests[("HEAD", "/ok/shared")] == 1
    assert sites.count("/ok/shared") == 1
    # a 404 is asked twice (HEAD, then GET in case the server only dislikes HEAD), once
    # for the image and the heading together
    assert sites.count("/missing") == 2


def test_a_trusted_certificate_passes(tmp_path: Path, sites: LinkSites) -> None:
    # The same https site, trusted: the error above was the certificate, not the server.
    trusting = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
    issue = _issue(tmp_path, f"## [Self-signed]({sites.https}/ok)\n- x\n")
    (checked,) = check_links([issue], timeout=5.0, verify=trusting)
    assert checked.problems() == []
    assert checked.results[f"{sites.https}/ok"].status == 200


def test_a_redirect_to_a_missing_page_is_an_error(tmp_path: Path, sites: LinkSites) -> None:
    issue = _issue(tmp_path, f"## [Gone]({sites.http}/moved-to-missing)\n- x\n")
    (checked,) = check_links([issue], timeout=5.0)
    (problem,) = checked.problems()
    assert problem.severity is Severity.ERROR and "HTTP 404" in problem.message
    assert f"after redirects, at {sites.http}/missing" in problem.message
