"""The web version stored when a campaign starts (the archive shows what was sent):
real sends through the SES stub, the store read back directly."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.delivery.archive import Archive, web_page
from pipeline.delivery.sendlog import SendLog
from pipeline.issue.archive import ArchivedIssue
from pipeline.issue.build import build
from pipeline.issue.render import render_web
from pipeline.settings import load_settings
from tests.support import db
from tests.support.cli import SAMPLE_ISSUE
from tests.support.sending import Cli, make_list, ok, people, store
from tests.support.ses_stub import SesStub

TITLE = "Article Weekly, Issue 25"
EDITED = "Experts vs. Imitators (edited after the send)"


@pytest.fixture
def issue_file(project: Path) -> Path:
    path = project / "issues" / SAMPLE_ISSUE.name
    shutil.copy(SAMPLE_ISSUE, path)
    return path


def stored() -> list[dict[str, object]]:
    return [
        dict(row._mapping) for row in db.rows("SELECT * FROM web_versions ORDER BY campaign_id")
    ]


def edit(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "Experts vs. Imitators" in text
    path.write_text(text.replace("Experts vs. Imitators", EDITED), encoding="utf-8")


def test_a_real_send_stores_the_web_version_as_it_went_out(
    cli: Cli, stub: SesStub, issue_file: Path
) -> None:
    make_list(cli, "weekly", people(3))
    settings = load_settings()
    built = build(issue_file, settings)
    assert built.issue is not None
    expected = render_web(built.issue, settings)
    ok(cli("send", issue_file, "--list", "weekly", "--yes", "--rate", "1000"))
    (row,) = stored()
    assert row["issue_number"] == 25
    assert row["title"] == TITLE
    assert row["subject"] == built.issue.subject
    assert row["preheader"] == built.issue.preheader
    assert row["lang"] == "ko"
    assert row["period"] == "2024년 6월 16일 ~ 22일"
    assert row["html"] == expected
    (campaign_id,) = db.rows("SELECT id FROM campaigns WHERE dry_run = ?", False)[0]
    assert row["campaign_id"] == campaign_id
    # What the archive reads back is the same page.
    with store() as opened:
        (version,) = Archive(opened, settings, issue_file.parent).issues(with_html=True)
    assert version.html == expected and version.number == 25


def test_a_dry_run_stores_no_web_version(cli: Cli, stub: SesStub, issue_file: Path) -> None:
    make_list(cli, "weekly", people(2))
    ok(cli("send", issue_file, "--list", "weekly", "--yes", "--dry-run"))
    assert db.one("SELECT count(*) FROM campaigns WHERE dry_run = ?", True) == 1
    assert stored() == []


def test_a_resumed_campaign_keeps_the_version_of_its_start(
    cli: Cli, stub: SesStub, issue_file: Path
) -> None:
    make_list(cli, "weekly", people(4))
    stub.paused = True  # SES pauses the account: the campaign starts and pauses
    result = cli("send", issue_file, "--list", "weekly", "--yes", "--rate", "1000")
    assert result.code != 0
    assert db.one("SELECT status FROM campaigns") == "paused"
    (first,) = stored()
    edit(issue_file)
    stub.paused = False
    ok(cli("send", issue_file, "--list", "weekly", "--yes", "--rate", "1000"))
    assert db.one("SELECT status FROM campaigns") == "finished"
    assert stored() == [first]
    assert EDITED not in str(first["html"]) and "Experts vs. Imitators" in str(first["html"])


def test_a_second_start_of_the_same_campaign_keeps_the_first_version(
    cli: Cli, stub: SesStub, issue_file: Path
) -> None:
    """Two senders starting at once: the loser's start fails as a whole and it joins."""
    make_list(cli, "weekly", people(2))
    now = datetime.now(UTC)
    page = ArchivedIssue(25, "first", "subject", None, "ko", None, "<html>first</html>", now, now)
    with store() as opened:
        log = SendLog(opened)
        weekly = log.list_of("weekly")
        log.start(25, weekly, "subject", dry_run=False, web=page)
        other = dataclasses.replace(page, title="second", html="<html>second</html>")
        with pytest.raises(sa.exc.IntegrityError):
            log.start(25, weekly, "subject", dry_run=False, web=other)
    assert [row["html"] for row in stored()] == ["<html>first</html>"]


@pytest.mark.single_backend  # never opens the store
def test_a_scheduled_rendering_brings_its_own_web_version(project: Path, issue_file: Path) -> None:
    """A schedule stores the web version with its rendering: that one goes in, not a new
    rendering of today's file."""
    settings = load_settings()
    built = build(issue_file, settings)
    assert built.rendered is not None
    scheduled = dataclasses.replace(built.rendered, web_html="<html>as scheduled</html>")
    assert web_page(scheduled, settings).html == "<html>as scheduled</html>"
    fresh = web_page(built.rendered, settings)
    assert built.issue is not None and fresh.html == render_web(built.issue, settings)
