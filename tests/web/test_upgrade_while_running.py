"""An upgrade while the previous version still runs: `serve` of the code just before the
newest schema revision (taken from this checkout's git history) keeps answering its read
paths and one-click unsubscribes after `newsletter db upgrade` of this code has migrated
the database under it, as the README's "Upgrades" table says for that revision.

SQLite only: the revisions so far behave alike on both backends (tables and columns added
in one transaction each); the README names the one that needs the old processes stopped."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.audience.lists import create_list
from pipeline.audience.queries import AudienceTx
from pipeline.audience.subscribers import add
from pipeline.audience.tokens import make_token
from pipeline.db import Store, migrate
from tests.support import db
from tests.support.cli import ROOT, TEST_SECRET, ok, run_cli, use_project
from tests.web.test_serve_process import free_port, wait_healthy

pytestmark = pytest.mark.single_backend

VERSIONS = ROOT / "pipeline" / "db" / "migrations" / "versions"
READER = "reader@example.org"


def _git(*args: str) -> str:
    found = subprocess.run(["git", "-C", ROOT, *args], capture_output=True, text=True)
    if found.returncode != 0:
        pytest.skip(f"needs this checkout's git history: git {' '.join(args)}: {found.stderr}")
    return found.stdout.strip()


@pytest.fixture(scope="module")
def previous_code(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The code just before the newest revision was added, and the revision it knew."""
    newest = sorted(VERSIONS.glob("v[0-9]*.py"))[-1]
    added = _git("log", "-1", "--diff-filter=A", "--format=%H", "--", str(newest))
    if not added:
        pytest.skip(f"{newest.name} is not committed yet")
    folder = tmp_path_factory.mktemp("previous")
    archive = subprocess.run(
        ["git", "-C", ROOT, "archive", f"{added}^", "pipeline", "templates"],
        capture_output=True,
        check=True,
    )
    subprocess.run(["tar", "-x", "-C", folder], input=archive.stdout, check=True)
    previous = sorted((folder / VERSIONS.relative_to(ROOT)).glob("v[0-9]*.py"))[-1]
    found = re.search(r'^revision = "(\w+)"', previous.read_text(), flags=re.MULTILINE)
    assert found, previous
    return folder, found.group(1)


@pytest.fixture
def old_serve(
    previous_code: tuple[Path, str], empty_database_url: str, tmp_path: Path
) -> Iterator[httpx.Client]:
    """The previous code's `serve`, on a database it migrated itself."""
    code, revision = previous_code
    assert revision != migrate.head(), "the previous code must know an older revision"
    env = {
        "PYTHONPATH": str(code),
        "PATH": "/usr/bin:/bin",
        "NEWSLETTER_DATABASE_URL": empty_database_url,
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
    }
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline", "serve", "--port", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=out,
        )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        wait_healthy(client, process, log)
        assert db.one("SELECT version_num FROM alembic_version", url=empty_database_url) == revision
        yield client
    finally:
        client.close()
        process.kill()
        process.wait()


def _reader(url: str) -> str:
    """A reader on a public list, added by this code (after the upgrade); their token."""
    with Store.open(url, migrate=False) as store:
        create_list(store, "weekly", public=True)
        add(store, READER, "weekly")
        with store.begin(AudienceTx, write=False) as tx:
            reader, weekly = tx.subscriber_by_key(READER), tx.list_by_name("weekly")
            assert reader is not None and weekly is not None
            return make_token(TEST_SECRET.encode(), reader.id, weekly.id)


def test_the_previous_serve_keeps_working_after_the_upgrade(
    old_serve: httpx.Client,
    empty_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = old_serve
    use_project(monkeypatch, tmp_path, empty_database_url)
    upgraded = ok(run_cli("db", "upgrade"))
    assert f"to {migrate.head()}" in upgraded.stderr
    # Rows as the new version writes them, read by the old one.
    token = _reader(empty_database_url)

    assert client.get("/healthz").status_code == 200
    assert "weekly" in client.get("/subscribe").text
    assert client.get("/issues").status_code == 200
    assert client.get(f"/unsubscribe/{token}").status_code == 200
    done = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert (done.status_code, done.text) == (200, "unsubscribed\n")
    status = db.one("SELECT status FROM memberships", url=empty_database_url)
    assert status == "unsubscribed"
