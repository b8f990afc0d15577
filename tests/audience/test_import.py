"""Importing list files the way real exports look, and exporting them back."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.audience import subscribers as lib
from pipeline.audience.listfile import ExportFormat
from pipeline.audience.queries import AudienceTx, recipients
from pipeline.db import Store
from pipeline.errors import InputError, NotFoundError
from tests.support import db
from tests.support.cli import ROOT

NOW = datetime(2024, 6, 1, tzinfo=UTC)

# Semicolons, a BOM, CRLF, a header with odd case and spaces, quoted delimiters and a
# quoted line break, blank lines, the same person twice in different case, and bad rows.
MESSY = (
    "\ufeff Email ;NAME; Company ;City\r\n"
    '"Kim.MinJun@Example.COM";"김민준";"Acme; Korea";Seoul\r\n'
    "\r\n"
    "lee@example.org;Lee;;\r\n"
    "not-an-address;Nobody;X;Y\r\n"
    ";Missing;X;Y\r\n"
    "too;few\r\n"
    'park@example.com;"Park, Jiho";"Line one\r\nline two";Busan\r\n'
    "kim.minjun@example.com;Dup;Dup;Dup\r\n"
    ";;;\r\n"
    "  choi@example.com  ; Choi ;  ;  \r\n"
).encode()


@pytest.fixture
def store_lists() -> tuple[str, ...]:
    return ("weekly",)


def _write(tmp_path: Path, content: bytes | str, name: str = "list.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _people(store: Store) -> dict[str, tuple[str | None, dict, str]]:
    """email -> (name, attributes, global status), straight from the database."""
    with store.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT email, name, attributes, status FROM subscribers ORDER BY id"
        )
        return {e: (n, json.loads(a), s) for e, n, a, s in rows}


def _count(store: Store, table: str) -> int:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar_one()


def test_a_messy_csv(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, MESSY)
    seen_invalid: list[lib.InvalidRow] = []
    report = lib.import_csv(store, path, "weekly", on_invalid=seen_invalid.append)

    assert (report.added, report.updated, report.unchanged) == (4, 0, 0)
    assert (report.duplicates, report.suppressed, report.invalid) == (1, 0, 3)
    assert report.written
    reasons = {row.line: row.reason for row in report.invalid_rows}
    assert set(reasons) == {5, 6, 7}
    assert "not a valid email address" in reasons[5]
    assert reasons[6] == "missing email address"
    assert reasons[7] == "expected 4 fields, found 2"
    assert seen_invalid == report.invalid_rows

    people = _people(store)
    assert people == {
        # the domain is normalised, the part before @ kept as written
        "Kim.MinJun@example.com": ("김민준", {"company": "Acme; Korea", "city": "Seoul"}, "active"),
        "lee@example.org": ("Lee", {}, "active"),
        "park@example.com": (
            "Park, Jiho",
            {"company": "Line one\r\nline two", "city": "Busan"},
            "active",
        ),
        "choi@example.com": ("Choi", {}, "active"),
    }
    assert [r.email for r in recipients(store, "weekly")] == list(people)


def test_comma_separated_with_quoted_commas(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, 'name,email,note\n"Smith, Alice",alice@example.com,"a, b"\n')
    report = lib.import_csv(store, path, "weekly")
    assert report.added == 1
    assert _people(store)["alice@example.com"] == ("Smith, Alice", {"note": "a, b"}, "active")


def test_excel_separator_hint_line(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, "sep=;\r\nemail;name\r\na@example.com;Lee, A\r\nbad;X\r\n")
    report = lib.import_csv(store, path, "weekly")
    assert report.added == 1 and [r.line for r in report.invalid_rows] == [4]
    assert _people(store)["a@example.com"][0] == "Lee, A"


def test_importing_twice_changes_nothing(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, MESSY)
    lib.import_csv(store, path, "weekly")
    before = _dump(store)
    report = lib.import_csv(store, path, "weekly")
    assert (report.added, report.updated, report.unchanged, report.duplicates) == (0, 0, 4, 1)
    assert _dump(store) == before


def _dump(store: Store) -> list[tuple]:
    with store.engine.connect() as conn:
        subs = conn.exec_driver_sql("SELECT * FROM subscribers ORDER BY id").all()
        members = conn.exec_driver_sql(
            "SELECT * FROM memberships ORDER BY subscriber_id, list_id"
        ).all()
    return [*map(tuple, subs), *map(tuple, members)]


def test_updates_merge_and_empty_cells_keep_values(store: Store, tmp_path: Path) -> None:
    lib.import_csv(
        store, _write(tmp_path, "email,name,company,city\na@example.com,A,Acme,Seoul\n"), "weekly"
    )
    second = _write(tmp_path, "email,name,company,plan\nA@EXAMPLE.COM,,Beta,pro\n", "b.csv")
    report = lib.import_csv(store, second, "weekly")
    assert (report.added, report.updated) == (0, 1)
    assert _people(store)["a@example.com"] == (
        "A",
        {"company": "Beta", "city": "Seoul", "plan": "pro"},
        "active",
    )


def test_a_known_person_joining_another_list_counts_as_added(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, "email\na@example.com\n")
    lib.import_csv(store, path, "weekly")
    lib.create_list(store, "news")
    report = lib.import_csv(store, path, "news")
    assert report.added == 1
    assert _count(store, "subscribers") == 1
    assert _count(store, "memberships") == 2


def test_suppression_survives_reimport(store: Store, tmp_path: Path) -> None:
    emails = ["list-unsub", "all-unsub", "bounced", "complained", "forgotten", "fine"]
    path = _write(tmp_path, "email\n" + "".join(f"{e}@example.com\n" for e in emails))
    lib.import_csv(store, path, "weekly")
    lib.unsubscribe(store, "list-unsub@example.com", "weekly")
    lib.unsubscribe(store, "all-unsub@example.com")
    with store.begin(AudienceTx) as tx:
        for status in ("bounced", "complained"):
            sub = tx.subscriber_by_key(f"{status}@example.com")
            assert sub is not None
            tx.set_subscriber_status(sub.id, status, NOW)
    lib.forget(store, "forgotten@example.com")
    before = _dump(store)

    report = lib.import_csv(store, path, "weekly")
    assert (report.suppressed, report.unchanged, report.added) == (5, 1, 0)
    assert _dump(store) == before
    assert "forgotten@example.com" not in _people(store)
    assert [r.email for r in recipients(store, "weekly")] == ["fine@example.com"]

    # ...and on a new list too: a global status and a forget follow the person everywhere
    lib.create_list(store, "news")
    report = lib.import_csv(store, path, "news")
    assert (report.suppressed, report.added) == (4, 2)  # list-unsub was only off "weekly"
    assert [r.email for r in recipients(store, "news")] == [
        "list-unsub@example.com",
        "fine@example.com",
    ]


def test_strict_writes_nothing_when_a_row_is_invalid(store: Store, tmp_path: Path) -> None:
    report = lib.import_csv(store, _write(tmp_path, MESSY), "weekly", strict=True)
    assert report.invalid == 3 and report.added == 4  # counted, then rolled back
    assert not report.written
    assert _count(store, "subscribers") == 0
    clean = lib.import_csv(
        store, _write(tmp_path, "email\na@example.com\n", "ok.csv"), "weekly", strict=True
    )
    assert clean.written and _count(store, "subscribers") == 1


def test_dry_run_writes_nothing(store: Store, tmp_path: Path) -> None:
    report = lib.import_csv(store, _write(tmp_path, MESSY), "weekly", dry_run=True)
    assert report.added == 4 and not report.written
    assert _count(store, "subscribers") == _count(store, "memberships") == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("\r\n\r\n", "empty"),
        ("name,company\nA,B\n", "no email column"),
        ("email,Email\na@example.com,b@example.com\n", "repeats email"),
        ("email,,x\na@example.com,1,2\n", "column 2 of the header has no name"),
        (b"email,\xff\n", "list.csv:1: not UTF-8 text"),
    ],
)
def test_unusable_files_are_refused(
    store: Store, tmp_path: Path, content: str | bytes, message: str
) -> None:
    with pytest.raises(InputError, match=message):
        lib.import_csv(store, _write(tmp_path, content), "weekly")


def test_missing_file_and_missing_list(store: Store, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="no such file"):
        lib.import_csv(store, tmp_path / "nope.csv", "weekly")
    with pytest.raises(NotFoundError, match="no list named 'nope'"):
        lib.import_csv(store, _write(tmp_path, "email\na@example.com\n"), "nope")


def test_a_crash_in_the_middle_leaves_nothing_written(store: Store, tmp_path: Path) -> None:
    path = _write(tmp_path, "email\n" + "".join(f"p{i}@example.com\n" for i in range(5000)))
    calls = []

    def interrupt_after_two_batches(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt  # what Ctrl-C does, two batches (2,000 rows) in

    with pytest.raises(KeyboardInterrupt):
        lib.import_csv(store, path, "weekly", progress=interrupt_after_two_batches)
    assert _count(store, "subscribers") == _count(store, "memberships") == 0


def test_a_killed_import_leaves_nothing_written(
    tmp_path: Path, database_url: str, backend: str
) -> None:
    """SIGKILL mid-import (no cleanup code runs): the database is as it was."""
    with Store.open(database_url) as store:
        lib.create_list(store, "weekly")
    path = tmp_path / "big.csv"
    with path.open("w") as out:
        out.write("email,name\n")
        out.writelines(f"person{i}@example.com,Person {i}\n" for i in range(400_000))
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSLETTER_")}
    env |= {"NEWSLETTER_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "subscribers", "import", str(path), "-l", "weekly"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    # Kill once rows are certainly being written: the uncommitted pages fill SQLite's WAL,
    # or the subscribers table's file on PostgreSQL's server.
    while _bytes_written(database_url, backend) < 2_000_000 and child.poll() is None:
        assert time.monotonic() < deadline, "the import never started writing"
        time.sleep(0.02)
    assert child.poll() is None, f"import finished before it could be killed: {child.stderr}"
    child.send_signal(signal.SIGKILL)
    child.wait()

    if backend == "sqlite":
        conn = sqlite3.connect(sa.make_url(database_url).database or "")
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    assert db.one("SELECT count(*) FROM subscribers", url=database_url) == 0
    assert db.one("SELECT count(*) FROM memberships", url=database_url) == 0


def _bytes_written(database_url: str, backend: str) -> int:
    """How far a writer has got, committed or not: the size of SQLite's WAL file, or of the
    subscribers table on PostgreSQL's server (its pages are on disk before the commit)."""
    if backend == "sqlite":
        wal = Path(f"{sa.make_url(database_url).database}-wal")
        return wal.stat().st_size if wal.exists() else 0
    return int(db.one("SELECT pg_relation_size('subscribers')", url=database_url))


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_round_trips_with_import(
    tmp_path: Path, database_url: str, request: pytest.FixtureRequest, fmt: ExportFormat
) -> None:
    with Store.open(database_url) as first:
        lib.create_list(first, "weekly")
        lib.import_csv(first, _write(tmp_path, MESSY), "weekly")
        lib.unsubscribe(first, "lee@example.org", "weekly")
        out = io.StringIO()
        assert lib.export(first, "weekly", out, fmt) == 3  # lee unsubscribed: not exported
        exported = dict(_people(first))
        del exported["lee@example.org"]
    path = _write(tmp_path, out.getvalue(), f"export.{fmt}")
    with Store.open(db.another_database(request)) as second:
        lib.create_list(second, "copy")
        report = lib.import_csv(second, path, "copy")
        assert (report.added, report.invalid) == (3, 0)
        assert _people(second) == exported
        again = io.StringIO()
        lib.export(second, "copy", again, fmt)
        assert again.getvalue() == out.getvalue()


def test_export_of_a_missing_list(store: Store) -> None:
    with pytest.raises(NotFoundError, match="nope"):
        lib.export(store, "nope", io.StringIO(), "csv")


def test_jsonl_rows_are_checked(store: Store, tmp_path: Path) -> None:
    content = (
        '{"email": "a@example.com", "name": "A", "attributes": {"plan": "pro"}, "Tier": 2}\n'
        "\n"
        "not json\n"
        "[1, 2]\n"
        '{"email": 5}\n'
        '{"name": "no address"}\n'
    )
    report = lib.import_csv(store, _write(tmp_path, content, "people.jsonl"), "weekly")
    assert report.added == 1
    assert [(r.line, r.reason.split(":")[0]) for r in report.invalid_rows] == [
        (3, "not valid JSON"),
        (4, "not a JSON object"),
        (5, "email and name must be strings"),
        (6, "missing email address"),
    ]
    assert _people(store)["a@example.com"] == ("A", {"plan": "pro", "tier": 2}, "active")
