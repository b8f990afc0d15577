"""`newsletter report ISSUE --html FILE`: which campaign, where it is written, and an error
that leaves no half-written file (nor touches the file already there)."""

from __future__ import annotations

import os
import stat

import lxml.html

from tests.support.cli import ok, refused
from tests.support.reports import send_issue, the_story


def headings(path) -> list[str]:
    page = lxml.html.document_fromstring(path.read_text(encoding="utf-8"))
    return [h.text_content() for h in page.iter("h1", "h2")]


def test_writes_the_report_and_says_where(project, cli, monkeypatch) -> None:
    the_story(project, cli, monkeypatch)
    target = project / "out" / "report.html"
    target.parent.mkdir()
    result = ok(cli("report", "25", "--html", target))
    assert f"report of issue 25 to weekly written to {target}" in result.stderr
    assert result.stdout == ""
    assert headings(target) == [
        "Article Weekly 제25호 발송 보고서",
        "발송 단계",
        "반송률과 스팸 신고율",
        "weekly 목록의 주별 변화",
    ]
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert os.listdir(target.parent) == ["report.html"]  # no temporary file left beside it
    # A second run replaces the file whole.
    ok(cli("report", "25", "--html", target))
    assert os.listdir(target.parent) == ["report.html"]


def test_the_issue_file_names_the_issue_too(project, cli, monkeypatch) -> None:
    from tests.support.sending import ISSUE

    send_issue(cli, monkeypatch, "weekly")
    ok(cli("report", ISSUE, "--html", project / "r.html"))
    assert "발송 단계" in headings(project / "r.html")


def test_several_lists_need_list(project, cli, monkeypatch) -> None:
    send_issue(cli, monkeypatch, "weekly", "friends")
    target = project / "report.html"
    refused(cli("report", "25", "--html", target), "several lists: weekly, friends", "--list")
    assert not target.exists()
    result = ok(cli("report", "25", "--html", target, "--list", "friends"))
    assert "to friends written to" in result.stderr
    assert "friends 목록의 주별 변화" in headings(target)


def test_an_error_leaves_the_old_file_as_it_was(project, cli, monkeypatch) -> None:
    send_issue(cli, monkeypatch, "weekly")
    target = project / "report.html"
    target.write_text("the report of last week", encoding="utf-8")
    refused(cli("report", "25", "--html", target, "--list", "nobody"), "nobody")
    refused(cli("report", "26", "--html", target), "issue 26 has no campaign", "newsletter log")
    assert target.read_text(encoding="utf-8") == "the report of last week"
    assert not [name for name in os.listdir(project) if name.startswith(".report.html.")]


def test_refusals_name_the_fix(project, cli, monkeypatch) -> None:
    send_issue(cli, monkeypatch, "weekly")
    refused(cli("report", "--html", project / "r.html"), "--html needs an issue")
    refused(cli("report", "25", "--missing", "--html", project / "r.html"), "do not go together")
    refused(cli("report", "25", "--html", project / "missing" / "r.html"), "does not exist")
    refused(cli("report", "25", "--html", project / "issues"), "is a folder")
    # A folder nobody may create files in, even root (a read-only mount would do the same).
    refused(cli("report", "25", "--html", "/proc/report.html"), "cannot write the report")
