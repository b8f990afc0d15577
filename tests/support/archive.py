"""What the archive tests share: two issues sent for real (through the SES stub), the
second with a title that needs escaping in HTML and XML, and the fixtures that send them once
per module and backend. A test module binds those fixtures as its own (`sent_once =
archive.sent_once`, ...): pytest then keeps `sent_per_backend` per module, and `database_url`
overrides the global one in that module only."""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from pipeline.db import Store
from pipeline.settings import load_settings
from pipeline.web.app import create_app
from tests.support import db
from tests.support.cli import ROOT, SAMPLE_ISSUE, run_cli, use_project
from tests.support.sending import Cli, make_list, ok, people, use_ses
from tests.support.ses_stub import SesStub, default_account

TITLE_25 = "Article Weekly, Issue 25"
TITLE_26 = "Article Weekly 26호: 검색 & <캐시> 이야기"
PREHEADER_26 = '검색 & 캐시 <실험>, 그리고 "따옴표"까지 정리했습니다.'
PERIOD_25 = "2024년 6월 16일 ~ 22일"
PERIOD_26 = "2024년 6월 23일 ~ 29일"
ARTICLE_25 = "Experts vs. Imitators"


@dataclass(frozen=True)
class SentIssues:
    files: dict[int, Path]  # issue number -> its file in the project's issues/
    started: dict[int, datetime]  # issue number -> its campaign's start (aware, UTC)


def issue_26_text() -> str:
    text = SAMPLE_ISSUE.read_text(encoding="utf-8")
    head, _, body = text.partition("\n---\n")
    lines = []
    for line in head.splitlines():
        if line.startswith("title:"):
            line = f"title: '{TITLE_26}'"
        elif line.startswith("number:"):
            line = "number: 26"
        elif line.startswith("period:"):
            line = "period: {start: 2024-06-23, end: 2024-06-29}"
        elif line.startswith("subject:"):
            line = f"subject: '{TITLE_26}'"
        elif line.startswith("preheader:"):
            line = f"preheader: '{PREHEADER_26}'"
        lines.append(line)
    return "\n".join(lines) + "\n---\n" + body


def send_two_issues(cli: Cli, project: Path) -> SentIssues:
    """Issue 25, then issue 26, each sent to `weekly`; issue 27 only as a dry run."""
    folder = project / "issues"
    folder.mkdir(exist_ok=True)
    files = {25: folder / SAMPLE_ISSUE.name, 26: folder / "2024-06-29-article-weekly-26.md"}
    shutil.copy(SAMPLE_ISSUE, files[25])
    files[26].write_text(issue_26_text(), encoding="utf-8")
    dry = folder / "2024-07-06-article-weekly-27.md"
    dry.write_text(issue_26_text().replace("number: 26", "number: 27"), encoding="utf-8")
    make_list(cli, "weekly", people(3))
    for number in (25, 26):
        ok(cli("send", files[number], "--list", "weekly", "--yes", "--rate", "1000"))
    ok(cli("send", dry, "--list", "weekly", "--yes", "--dry-run"))
    started = {
        number: db.one("SELECT started_at FROM campaigns WHERE issue_number = ?", number)
        for number in (25, 26)
    }
    return SentIssues(files, {n: _aware(s) for n, s in started.items()})


def _aware(value: datetime | str) -> datetime:
    """A start time read with plain SQL: SQLite gives naive UTC text, PostgreSQL an aware
    datetime."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- sent once per module and backend; each test works on a copy -------------------------


@dataclass(frozen=True)
class SentOnce:
    url: str  # the database the two issues were sent from
    folder: Path  # the project folder they were sent from
    issues: SentIssues


def send_once(folder: Path, url: str) -> SentOnce:
    shutil.copy(ROOT / "newsletter.toml", folder / "newsletter.toml")
    with (
        pytest.MonkeyPatch.context() as mp,
        SesStub(account=default_account(max_send_rate=1000)) as stub,
    ):
        use_project(mp, folder, url)
        use_ses(mp, stub.endpoint_url)
        issues = send_two_issues(run_cli, folder)
    return SentOnce(url, folder, issues)


def sent_once_for(
    backend: str,
    cache: dict[str, SentOnce],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> SentOnce:
    """The two issues of `backend`, sent on the first call of a module (`cache` is the
    module's); later calls return the same."""
    if backend not in cache:
        folder = tmp_path_factory.mktemp(f"archive-{backend}")
        url = db.fresh_database(backend, folder, request)
        cache[backend] = send_once(folder, url)
    return cache[backend]


def copy_database(url: str, tmp_path: Path) -> str:
    """A copy of the sent database for one test (SQLite's backup API: the database is in
    WAL mode, a file copy could miss pages)."""
    if not url.startswith("sqlite"):
        return db.copy_postgres_database(url)
    target = tmp_path / "test.db"
    source = sqlite3.connect(sa.make_url(url).database or "")
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        source.close()
        copy.close()
    return f"sqlite:///{target}"


def into_project(once: SentOnce, project: Path) -> SentIssues:
    """The sent issue files copied into the test's project folder."""
    shutil.copytree(once.folder / "issues", project / "issues", dirs_exist_ok=True)
    files = {n: project / "issues" / path.name for n, path in once.issues.files.items()}
    return replace(once.issues, files=files)


# --- the fixtures a module binds (see the docstring) -------------------------------------


@pytest.fixture(scope="module")
def sent_per_backend() -> dict[str, SentOnce]:
    """The module's sends, by backend: filled by `sent_once` on first use."""
    return {}


@pytest.fixture
def sent_once(
    backend: str,
    sent_per_backend: dict[str, SentOnce],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> SentOnce:
    """The two issues, sent once per module and backend (on the first test that needs it)."""
    return sent_once_for(backend, sent_per_backend, tmp_path_factory, request)


@pytest.fixture
def database_url(sent_once: SentOnce, tmp_path: Path) -> str:
    """Each test's database: a copy of the sent one (for `project`, which uses it)."""
    return copy_database(sent_once.url, tmp_path)


@pytest.fixture
def sent(sent_once: SentOnce, project: Path) -> SentIssues:
    return into_project(sent_once, project)


@pytest.fixture
def client(
    sent: SentIssues, project: Path, asgi_client: Callable[[Any], httpx.Client]
) -> Iterator[httpx.Client]:
    """The web app over the test's copy of the sent database, called in-process."""
    with Store.open(os.environ["NEWSLETTER_DATABASE_URL"]) as store:
        app = create_app(load_settings(), store, issues=project / "issues")
        with asgi_client(app) as opened:
            yield opened


@pytest.fixture
def site_url(sent: SentIssues, project: Path, serve_app: Callable[[Any], str]) -> Iterator[str]:
    """The web app over the test's copy of the sent database, on a real socket on
    127.0.0.1 (for a browser)."""
    with Store.open(os.environ["NEWSLETTER_DATABASE_URL"]) as store:
        yield serve_app(create_app(load_settings(), store, issues=project / "issues"))
