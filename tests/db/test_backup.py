"""`newsletter backup --out FILE`: a whole, checked copy of a SQLite database taken while
another connection keeps writing, or while a real `send` runs, never a half-written file; on PostgreSQL, the pg_dump
command and exit 2. SQLite only: the backup API is SQLite's own."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.audience import subscribers as lib
from pipeline.db import Store
from tests.support import db
from tests.support.cli import refused
from tests.support.sending import db_counts, make_list, ok, people, spawn_send, wait_until_sent
from tests.support.ses_stub import SesStub

pytestmark = pytest.mark.single_backend


@pytest.fixture
def writing(project: Path, store: Store) -> Iterator[threading.Event]:
    """A list that another connection keeps joining (as serve's signups and a send's
    log would write) until the test sets the event; at least 20 people joined first."""
    lib.create_list(store, "weekly")
    stop, started = threading.Event(), threading.Event()

    def keep_writing() -> None:
        number = 0
        while not stop.is_set():
            lib.add(store, f"reader{number:05d}@example.com", "weekly")
            number += 1
            if number == 20:
                started.set()

    writer = threading.Thread(target=keep_writing, daemon=True)
    writer.start()
    assert started.wait(timeout=60)
    yield stop
    stop.set()
    writer.join(timeout=30)


def _people(url: str) -> list[str]:
    return [row[0] for row in db.rows("SELECT email FROM subscribers ORDER BY id", url=url)]


def test_a_backup_taken_while_writes_go_on_is_whole_and_opens(
    project: Path, cli, writing: threading.Event
) -> None:
    out = project / "backups" / "newsletter.db"
    out.parent.mkdir()
    out.write_bytes(b"yesterday's backup")
    result = ok(cli("backup", "--out", out))
    writing.set()
    assert "integrity check ok" in result.stderr
    assert list(out.parent.iterdir()) == [out]  # replaced, no partial file left beside it

    url = f"sqlite:///{out}"
    backed_up = _people(url)
    # One moment of the database: a prefix of everyone who joined, each with their list.
    assert (
        len(backed_up) >= 20
        and backed_up == _people(db.engine().url.render_as_string())[: len(backed_up)]
    )
    joined = db.one("SELECT count(*) FROM memberships", url=url)
    assert joined == len(backed_up)
    assert db.one("PRAGMA journal_mode", url=url) == "delete"  # one file, no -wal needed
    with Store.open(url, migrate=False) as restored:  # at the newest revision already
        assert restored.schema_version() is not None
    ok(cli("lists"))  # the live database is untouched


def test_what_cannot_be_backed_up_is_refused_and_nothing_is_written(
    project: Path, cli, store: Store
) -> None:
    refused(cli("backup", "--out", project), "is a folder")
    refused(cli("backup", "--out", project / "missing" / "b.db"), "no folder")
    live = Path(sa.make_url(db.engine().url.render_as_string()).database or "")
    before = live.read_bytes()
    refused(cli("backup", "--out", live), "the database itself")
    assert live.read_bytes() == before
    assert sorted(p.name for p in project.iterdir() if p.name.startswith(".")) == []


def test_on_postgresql_it_prints_the_pg_dump_command_and_exits_2(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(
        "NEWSLETTER_DATABASE_URL", "postgresql+psycopg://news:s3cret@db.internal:5433/weekly"
    )
    result = cli("backup", "--out", "weekly.dump")
    assert result.code == 2 and "Traceback" not in result.output
    command = "pg_dump --format=custom --file weekly.dump postgresql://news@db.internal:5433/weekly"
    assert result.stdout == command + "\n"  # the command alone, for a script to run
    assert "pg_dump" in result.stderr
    assert "s3cret" not in result.output
    assert not (project / "weekly.dump").exists()


def test_a_backup_taken_while_a_real_send_runs_is_one_moment_of_the_send_log(
    project: Path, cli, stub: SesStub, processes: list[subprocess.Popen[str]]
) -> None:
    """`newsletter send` in a process of its own, mid-campaign, while the backup is taken:
    the copy holds the campaign at one moment (every reader accounted for, as sent, being
    sent or still to send), and the send finishes unharmed."""
    make_list(cli, "weekly", people(40))
    stub.delay = 0.05  # about a second and a half of sending at --concurrency 1
    sender = spawn_send("--concurrency", "1")
    processes.append(sender)
    wait_until_sent(sender, at_least=5, targeted=40)
    out = project / "backup.db"
    result = ok(cli("backup", "--out", out))
    assert "integrity check ok" in result.stderr
    _, err = sender.communicate(timeout=120)
    assert sender.returncode == 0, err

    url = f"sqlite:///{out}"
    statuses = dict(db.rows("SELECT status, count(*) FROM deliveries GROUP BY status", url=url))
    assert sum(statuses.values()) == 40, statuses
    assert set(statuses) <= {"pending", "sending", "sent"}, statuses
    assert 5 <= statuses.get("sent", 0) < 40, statuses  # taken mid-campaign
    assert db_counts()["sent"] == 40  # the live campaign went on to the end
