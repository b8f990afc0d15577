"""Hostile input through `newsletter subscribers`: names that would break a header, exports
opened in a spreadsheet or a terminal, and a forget that must leave nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipeline.audience.subscribers import email_hash
from pipeline.db import Store
from tests.support import db
from tests.support.cli import ROOT, SAMPLE_ISSUE, Result, ok, refused
from tests.support.sending import make_list, send
from tests.support.ses_stub import SesStub
from tests.support.sns_fixtures import bounce_transient, click

Cli = Callable[..., Result]


@pytest.fixture
def weekly(cli: Cli, project: Path) -> None:
    ok(cli("lists", "create", "weekly"))


def test_names_with_line_breaks_are_cleaned_and_said_on_add_and_import(
    cli: Cli, weekly: None, project: Path
) -> None:
    result = ok(cli("subscribers", "add", "a@example.com", "-l", "weekly", "--name", "A\nBcc: x"))
    assert "(name cleaned: line break replaced by a space)" in result.stderr
    refused(cli("subscribers", "add", "b@example.com", "-l", "weekly", "--name", "x" * 201), "200")
    (project / "people.csv").write_bytes(
        b'email,name\r\nc@example.com,"C\r\nBcc: x"\r\nd@example.com,"D\x00\tE"\r\n'
    )
    result = ok(cli("subscribers", "import", "people.csv", "-l", "weekly"))
    assert "people.csv:2: name cleaned: line break replaced by a space" in result.stderr
    assert (
        "people.csv:4: name cleaned: control character removed, tab replaced by a space"
        in result.stderr
    )
    assert "2 added" in result.stderr and "2 cleaned, 0 invalid" in result.stderr
    again = ok(cli("subscribers", "import", "people.csv", "-l", "weekly", "-f", "json"))
    report = json.loads(again.stdout)
    assert (report["cleaned"], report["unchanged"]) == (2, 2)
    assert report["cleaned_rows"][0] == {
        "line": 2,
        "what": "name cleaned: line break replaced by a space",
    }
    assert [tuple(row) for row in db.rows("SELECT email, name FROM subscribers ORDER BY id")] == [
        ("a@example.com", "A Bcc: x"),
        ("c@example.com", "C Bcc: x"),
        ("d@example.com", "D E"),
    ]


def places_holding(*needles: str) -> dict[str, set[str]]:
    """Every table.column of the project's database (found by reflection, so a table added
    later is included) with a text value containing one of the needles, ignoring case."""
    wanted = [n.lower() for n in needles]
    engine = sa.create_engine(os.environ["NEWSLETTER_DATABASE_URL"])
    metadata = sa.MetaData()
    metadata.reflect(engine)
    found: dict[str, set[str]] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            # the stored values themselves, without the reflected types' conversions
            for row in conn.exec_driver_sql(f'SELECT * FROM "{table.name}"').mappings():
                for column, value in row.items():
                    if isinstance(value, str) and any(n in value.lower() for n in wanted):
                        found.setdefault(table.name, set()).add(column)
    engine.dispose()
    return found


def test_forget_leaves_the_person_in_no_table(cli: Cli, stub: SesStub, project: Path) -> None:
    gone, name = "Gone.Person@Example.com", "Zebulon Forgetmenot"
    make_list(cli, "weekly", [("stays@example.com", "Stays"), (gone, name)])
    stub.reject = [gone]  # SES's answer quotes the address: the failed row's error holds it
    result = send(cli)
    assert "Traceback" not in result.output
    make_list(cli, "news", [(gone, name)])
    stub.reject = []
    ok(send(cli, list_name="news"))
    ok(cli("send-test", SAMPLE_ISSUE, "--to", f"{name} <{gone.upper()}>"))
    message_id = stub.accepted_to(gone)[0].message_id
    bounce = bounce_transient(message_id, gone)
    bounce["bounce"]["bouncedRecipients"][0]["diagnosticCode"] = f"smtp; 452 <{gone}> is full"
    lines = [json.dumps(bounce), json.dumps(click(message_id, gone))]
    (project / "events.jsonl").write_text("\n".join(lines) + "\n")
    ok(cli("events", "ingest", "events.jsonl"))
    # What the sender writes when a run of failures pauses a campaign: the last error.
    db.execute(
        "UPDATE campaigns SET pause_reason = '50 messages in a row failed; last: ' || "
        "(SELECT error FROM deliveries WHERE status = 'failed') WHERE list_name = 'weekly'"
    )
    before = places_holding(gone, name)
    assert set(before) >= {"subscribers", "deliveries", "test_sends", "events", "campaigns"}

    result = ok(cli("subscribers", "forget", gone.lower()))
    assert "1 test-send record(s)" in result.stderr
    assert places_holding(gone, name) == {}
    assert db.one("SELECT reason FROM suppressions") == "forgotten"
    assert db.one("SELECT email_hash FROM suppressions") == email_hash(gone.lower())
    # The counts stay, and so does everyone else.
    assert db.one("SELECT count(*) FROM deliveries") == 3
    assert db.one("SELECT count(*) FROM events") == 2
    assert places_holding("stays@example.com") == {
        "subscribers": {"email", "email_key"},
        "deliveries": {"email"},
    }


def test_forget_a_tester_who_never_subscribed(cli: Cli, stub: SesStub, project: Path) -> None:
    ok(cli("send-test", SAMPLE_ISSUE, "--to", "tester@example.com"))
    result = ok(cli("subscribers", "forget", "Tester@example.com"))
    assert "deleted 1 test-send record(s) of Tester@example.com" in result.stderr
    assert places_holding("tester@example.com") == {}


def test_forgetting_again_clears_what_an_earlier_forget_left(
    cli: Cli, stub: SesStub, project: Path
) -> None:
    gone = "early@example.com"
    make_list(cli, "weekly", [("stays@example.com", "Stays"), (gone, "Early")])
    stub.reject = [gone]
    assert "Traceback" not in send(cli).output
    stub.reject = []
    ok(cli("send-test", SAMPLE_ISSUE, "--to", gone))
    # What forget did before it knew of test sends and SES's errors: blank and delete only
    # (in one transaction, on the store's own connection: SQLite's foreign keys are on).
    with Store.open(os.environ["NEWSLETTER_DATABASE_URL"]) as store, store.engine.begin() as conn:
        for sql, value in [
            ("UPDATE deliveries SET email = NULL, name = NULL WHERE email = :v", gone),
            ("DELETE FROM subscribers WHERE email_key = :v", gone),
            (
                "INSERT INTO suppressions VALUES (:v, 'forgotten', '2024-06-01 00:00:00')",
                email_hash(gone),
            ),
        ]:
            conn.execute(sa.text(sql), {"v": value})
    assert set(places_holding(gone)) == {"deliveries", "test_sends"}

    result = ok(cli("subscribers", "forget", gone))
    assert "was already forgotten and 1 test-send record(s)" in result.stderr
    assert places_holding(gone) == {}
    assert places_holding("stays@example.com") == {
        "subscribers": {"email", "email_key"},
        "deliveries": {"email"},
    }


def test_export_for_excel_and_with_formulas(cli: Cli, weekly: None, project: Path) -> None:
    (project / "in.csv").write_text('email,name\nkim@example.com,김민준\nf@example.com,"=1+2"\n')
    ok(cli("subscribers", "import", "in.csv", "-l", "weekly"))
    ok(cli("subscribers", "export", "-l", "weekly", "--excel", "--out", "excel.csv"))
    assert (project / "excel.csv").read_bytes() == (
        "\ufeffemail,name\r\nkim@example.com,김민준\r\nf@example.com,'=1+2\r\n".encode()
    )
    ok(cli("lists", "create", "copy"))
    ok(cli("subscribers", "import", "excel.csv", "-l", "copy"))
    assert [tuple(row) for row in db.rows("SELECT name FROM subscribers ORDER BY id")] == [
        ("김민준",),
        ("=1+2",),
    ]
    refused(cli("subscribers", "export", "-l", "weekly", "--excel", "-f", "jsonl"), "--excel")


def test_export_to_stdout_is_utf8_whatever_the_locale(
    cli: Cli, weekly: None, project: Path
) -> None:
    ok(cli("subscribers", "add", "kim@example.com", "-l", "weekly", "--name", "김민준"))
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "LC_ALL": "C", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "subscribers", "export", "-l", "weekly"],
        env=env,
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "email,name\nkim@example.com,김민준\n".encode()


def test_show_never_prints_control_characters_to_the_terminal(cli: Cli, weekly: None) -> None:
    ok(cli("subscribers", "add", "kim@example.com", "-l", "weekly"))
    # A name stored before names were cleaned, and a consent record naming an odd file.
    db.execute("UPDATE subscribers SET name = 'Kim\x1b[2J\rBcc: x'")
    db.execute("UPDATE memberships SET source = 'import a\x1b[31m.csv'")
    shown = ok(cli("subscribers", "show", "kim@example.com")).stdout
    assert "\x1b" not in shown and "\r" not in shown
    assert "name: Kim\\x1b[2J\\rBcc: x" in shown and "(import a\\x1b[31m.csv)" in shown
    exact = json.loads(ok(cli("subscribers", "show", "kim@example.com", "-f", "json")).stdout)
    assert exact["name"] == "Kim\x1b[2J\rBcc: x"
