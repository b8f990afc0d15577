"""`newsletter lists` and `newsletter subscribers`, through the real entry point, checking
the database directly afterwards."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.audience.queries import AudienceTx
from pipeline.audience.subscribers import email_hash
from pipeline.audience.tokens import make_token, verify_token
from pipeline.db import Store
from tests.support import db
from tests.support.cli import TEST_SECRET, Result, ok, refused

Cli = Callable[..., Result]
SECRET = TEST_SECRET.encode()


def membership(email: str, list_name: str) -> str | None:
    return db.one(  # type: ignore[no-any-return]
        "SELECT m.status FROM memberships m JOIN subscribers s ON s.id = m.subscriber_id "
        "JOIN lists l ON l.id = m.list_id WHERE s.email_key = ? AND l.name = ?",
        email.lower(),
        list_name,
    )


def status(email: str) -> str | None:
    return db.one("SELECT status FROM subscribers WHERE email_key = ?", email.lower())  # type: ignore[no-any-return]


def set_status(project: Path, email: str, value: str) -> None:
    """Bounces and complaints arrive from SES later; here we set them through the store."""
    from datetime import UTC, datetime

    with Store.open(os.environ["NEWSLETTER_DATABASE_URL"]) as store, store.begin(AudienceTx) as tx:
        sub = tx.subscriber_by_key(email)
        assert sub is not None
        tx.set_subscriber_status(sub.id, value, datetime.now(UTC))


@pytest.fixture
def weekly(cli: Cli, project: Path) -> None:
    ok(cli("lists", "create", "weekly"))


@pytest.mark.single_backend  # never opens the store
def test_every_command_has_help(cli: Cli, project: Path) -> None:
    commands = [
        ("lists",),
        ("lists", "create"),
        ("lists", "delete"),
        ("subscribers",),
        *(
            ("subscribers", c)
            for c in ("add", "import", "export", "remove", "unsubscribe", "resubscribe")
        ),
        ("subscribers", "show"),
        ("subscribers", "forget"),
    ]
    for command in commands:
        result = ok(cli(*command, "--help"))
        assert "Usage:" in result.stdout
        assert len(result.stdout.split("Usage:")[1].strip().splitlines()) > 2, command


def test_lists_create_and_count(cli: Cli, project: Path) -> None:
    assert "no lists yet" in ok(cli("lists")).stderr
    assert "created list 'weekly'" in ok(cli("lists", "create", "weekly")).stderr
    refused(cli("lists", "create", "weekly"), "already exists", "--exist-ok")
    assert "already exists" in ok(cli("lists", "create", "weekly", "--exist-ok")).stderr
    ok(cli("lists", "create", "empty"))
    for email in ("a@example.com", "b@example.com", "c@example.com", "d@example.com"):
        ok(cli("subscribers", "add", email, "--list", "weekly"))
    ok(cli("subscribers", "unsubscribe", "b@example.com", "--list", "weekly"))
    set_status(project, "c@example.com", "bounced")
    set_status(project, "d@example.com", "complained")

    counts = json.loads(ok(cli("lists", "--format", "json")).stdout)
    assert counts == [
        {
            "name": "empty",
            "subscribed": 0,
            "unsubscribed": 0,
            "bounced": 0,
            "complained": 0,
            "total": 0,
            "unconfirmed": 0,
            "public": False,
            "title": None,
            "description": None,
            "created_at": counts[0]["created_at"],
        },
        {
            "name": "weekly",
            "subscribed": 1,
            "unsubscribed": 1,
            "bounced": 1,
            "complained": 1,
            "total": 4,
            "unconfirmed": 0,
            "public": False,
            "title": None,
            "description": None,
            "created_at": counts[1]["created_at"],
        },
    ]
    table = ok(cli("lists")).stdout
    assert "weekly" in table and "subscribed" in table


def test_add(cli: Cli, weekly: None) -> None:
    result = ok(
        cli("subscribers", "add", " Kim@Example.COM ", "--list", "weekly", "--name", "김민준")
    )
    assert "added Kim@example.com to 'weekly'" in result.stderr
    assert [tuple(row) for row in db.rows("SELECT email, name, status FROM subscribers")] == [
        ("Kim@example.com", "김민준", "active")
    ]
    assert membership("kim@example.com", "weekly") == "subscribed"
    again = ok(cli("subscribers", "add", "kim@example.com", "--list", "weekly"))
    assert "nothing changed" in again.stderr
    assert db.one("SELECT count(*) FROM subscribers") == 1


def test_clear_errors(cli: Cli, weekly: None) -> None:
    refused(cli("subscribers", "add", "not-an-address", "--list", "weekly"), "not-an-address")
    refused(cli("subscribers", "add", "a@example.com", "--list", "nope"), "'nope'", "weekly")
    for command in (
        ("show", "ghost@example.com"),
        ("remove", "ghost@example.com", "--list", "weekly"),
        ("unsubscribe", "ghost@example.com"),
        ("resubscribe", "ghost@example.com", "--list", "weekly"),
        ("forget", "ghost@example.com"),
    ):
        refused(cli("subscribers", *command), "ghost@example.com")
    refused(cli("subscribers", "export", "--list", "nope"), "'nope'")
    refused(cli("subscribers", "import", "missing.csv", "--list", "weekly"), "missing.csv")
    refused(cli("lists", "delete", "nope"), "'nope'")
    refused(cli("subscribers", "unsubscribe"), "--token")


def test_import_reports_and_lists_invalid_rows(cli: Cli, weekly: None, project: Path) -> None:
    (project / "people.csv").write_text(
        "email;name\r\na@example.com;A\r\nbad@;B\r\nA@example.com;dup\r\nb@example.com;B\r\n"
    )
    result = ok(cli("subscribers", "import", "people.csv", "--list", "weekly"))
    assert "people.csv:3: 'bad@' is not a valid email address" in result.stderr
    assert "2 added, 0 updated, 0 unchanged, 1 duplicate(s) in the file" in result.stderr
    assert "1 invalid" in result.stderr
    assert db.one("SELECT count(*) FROM memberships") == 2

    report = json.loads(
        ok(cli("subscribers", "import", "people.csv", "-l", "weekly", "-f", "json")).stdout
    )
    assert (report["added"], report["unchanged"], report["invalid"]) == (0, 2, 1)
    assert report["invalid_rows"][0]["line"] == 3


def test_import_strict_and_dry_run(cli: Cli, weekly: None, project: Path) -> None:
    (project / "people.csv").write_text("email\na@example.com\nbad@\n")
    refused(cli("subscribers", "import", "people.csv", "-l", "weekly", "--strict"), "--strict")
    assert db.one("SELECT count(*) FROM subscribers") == 0
    result = ok(cli("subscribers", "import", "people.csv", "-l", "weekly", "--dry-run"))
    assert "dry run, nothing written: 1 added" in result.stderr
    assert db.one("SELECT count(*) FROM subscribers") == 0


def test_sample_list_imports(cli: Cli, project: Path) -> None:
    sample = Path(__file__).resolve().parent.parent.parent / "subscribers" / "sample.csv"
    ok(cli("lists", "create", "sample"))
    result = ok(cli("subscribers", "import", str(sample), "--list", "sample"))
    assert "8 added" in result.stderr and "0 invalid" in result.stderr
    assert db.one("SELECT count(*) FROM subscribers WHERE attributes LIKE '%company%'") >= 5  # type: ignore[operator]


def test_show_json(cli: Cli, weekly: None, project: Path) -> None:
    ok(cli("lists", "create", "news"))
    ok(cli("subscribers", "add", "kim@example.com", "-l", "weekly", "--name", "Kim"))
    ok(cli("subscribers", "add", "kim@example.com", "-l", "news"))
    ok(cli("subscribers", "unsubscribe", "kim@example.com", "-l", "news"))

    record = json.loads(ok(cli("subscribers", "show", "KIM@example.com", "-f", "json")).stdout)
    assert set(record) >= {"email", "name", "status", "attributes", "lists", "history"}
    assert (record["email"], record["name"], record["status"]) == (
        "kim@example.com",
        "Kim",
        "active",
    )
    assert record["attributes"] == {} and record["history"] == []
    by_name = {entry["name"]: entry for entry in record["lists"]}
    assert set(by_name) == {"weekly", "news"}
    for entry in record["lists"]:
        assert set(entry) >= {
            "name",
            "status",
            "subscribed_at",
            "unsubscribed_at",
            "unsubscribe_url",
        }
        prefix = "https://weekly.example.com/unsubscribe/"
        assert entry["unsubscribe_url"].startswith(prefix)
        verify_token(SECRET, entry["unsubscribe_url"].removeprefix(prefix))
    assert by_name["news"]["status"] == "unsubscribed" and by_name["news"]["unsubscribed_at"]
    assert (
        by_name["weekly"]["status"] == "subscribed" and by_name["weekly"]["unsubscribed_at"] is None
    )

    people = ok(cli("subscribers", "show", "kim@example.com")).stdout
    assert "unsubscribe link: https://weekly.example.com/unsubscribe/" in people


def test_unsubscribe_from_one_list_or_everything(cli: Cli, weekly: None) -> None:
    ok(cli("lists", "create", "news"))
    for list_name in ("weekly", "news"):
        ok(cli("subscribers", "add", "a@example.com", "-l", list_name))
    ok(cli("subscribers", "unsubscribe", "a@example.com", "--list", "news"))
    assert membership("a@example.com", "news") == "unsubscribed"
    assert membership("a@example.com", "weekly") == "subscribed"
    assert status("a@example.com") == "active"
    assert "already" in ok(cli("subscribers", "unsubscribe", "a@example.com", "-l", "news")).stderr

    ok(cli("subscribers", "unsubscribe", "a@example.com"))
    assert membership("a@example.com", "weekly") == "unsubscribed"
    assert status("a@example.com") == "unsubscribed"
    # a list created later does not bring them back either
    ok(cli("lists", "create", "later"))
    refused(
        cli("subscribers", "add", "a@example.com", "-l", "later"), "unsubscribed", "resubscribe"
    )


def test_unsubscribe_by_token_acts_on_its_own_list_only(cli: Cli, weekly: None) -> None:
    ok(cli("lists", "create", "news"))
    for list_name in ("weekly", "news"):
        ok(cli("subscribers", "add", "a@example.com", "-l", list_name))
    sub_id = db.one("SELECT id FROM subscribers")
    news_id = db.one("SELECT id FROM lists WHERE name = 'news'")
    token = make_token(SECRET, sub_id, news_id)  # type: ignore[arg-type]

    result = ok(cli("subscribers", "unsubscribe", "--token", token))
    assert "unsubscribed a@example.com from 'news'" in result.stderr
    assert membership("a@example.com", "news") == "unsubscribed"
    assert membership("a@example.com", "weekly") == "subscribed"
    # the whole link works too, and a second click is harmless
    link = f"https://weekly.example.com/unsubscribe/{token}"
    assert "already" in ok(cli("subscribers", "unsubscribe", "--token", link)).stderr


def test_forged_and_tampered_tokens_are_refused(cli: Cli, weekly: None) -> None:
    ok(cli("subscribers", "add", "a@example.com", "-l", "weekly"))
    forged = make_token(b"someone-elses-secret-key-1234", 1, 1)
    refused(cli("subscribers", "unsubscribe", "--token", forged), "not valid")
    real = make_token(SECRET, 1, 1)
    tampered = real[:-3] + ("AAA" if real[-3:] != "AAA" else "BBB")
    refused(cli("subscribers", "unsubscribe", "--token", tampered), "not valid")
    assert membership("a@example.com", "weekly") == "subscribed"


def test_resubscribe_rules(cli: Cli, weekly: None, project: Path) -> None:
    for who in ("unsub", "bounced", "complained"):
        ok(cli("subscribers", "add", f"{who}@example.com", "-l", "weekly"))
    ok(cli("subscribers", "unsubscribe", "unsub@example.com"))
    set_status(project, "bounced@example.com", "bounced")
    set_status(project, "complained@example.com", "complained")

    ok(cli("subscribers", "resubscribe", "unsub@example.com", "-l", "weekly"))
    assert (status("unsub@example.com"), membership("unsub@example.com", "weekly")) == (
        "active",
        "subscribed",
    )
    for who in ("bounced", "complained"):
        email = f"{who}@example.com"
        refused(cli("subscribers", "add", email, "-l", "weekly"), who)
        refused(cli("subscribers", "resubscribe", email, "-l", "weekly"), who, "--force")
        assert status(email) == who
        ok(cli("subscribers", "resubscribe", email, "-l", "weekly", "--force"))
        assert status(email) == "active"


def test_remove(cli: Cli, weekly: None) -> None:
    ok(cli("subscribers", "add", "a@example.com", "-l", "weekly"))
    ok(cli("subscribers", "add", "b@example.com", "-l", "weekly"))
    assert (
        "removed a@example.com"
        in ok(cli("subscribers", "remove", "a@example.com", "-l", "weekly")).stderr
    )
    assert membership("a@example.com", "weekly") is None
    assert status("a@example.com") == "active"  # the person stays, only the membership goes
    refused(cli("subscribers", "remove", "a@example.com", "-l", "weekly"), "not on the list")
    # an unsubscribe is a choice to honour: removing it would let an import add them back
    ok(cli("subscribers", "unsubscribe", "b@example.com", "-l", "weekly"))
    refused(cli("subscribers", "remove", "b@example.com", "-l", "weekly"), "unsubscribed")
    assert membership("b@example.com", "weekly") == "unsubscribed"


def test_forget(cli: Cli, weekly: None, project: Path) -> None:
    ok(cli("subscribers", "add", "Gone@Example.com", "-l", "weekly", "--name", "Gone"))
    result = ok(cli("subscribers", "forget", "gone@example.com"))
    assert "forgot Gone@example.com" in result.stderr
    assert db.one("SELECT count(*) FROM subscribers") == 0
    assert db.one("SELECT count(*) FROM memberships") == 0
    assert (
        db.one(
            "SELECT reason FROM suppressions WHERE email_hash = ?",
            email_hash("gone@example.com"),
        )
        == "forgotten"
    )
    assert "already forgotten" in ok(cli("subscribers", "forget", "gone@example.com")).stderr
    refused(cli("subscribers", "show", "gone@example.com"), "forgotten")

    (project / "again.csv").write_text("email\nGONE@example.com\n")
    result = ok(cli("subscribers", "import", "again.csv", "-l", "weekly"))
    assert "1 kept suppressed" in result.stderr
    refused(cli("subscribers", "add", "gone@example.com", "-l", "weekly"), "forgotten")
    assert db.one("SELECT count(*) FROM subscribers") == 0

    ok(cli("subscribers", "resubscribe", "gone@example.com", "-l", "weekly"))
    assert membership("gone@example.com", "weekly") == "subscribed"
    assert db.one("SELECT count(*) FROM suppressions") == 0


def test_forget_takes_the_signup_requests_and_consents_with_it(cli: Cli, weekly: None) -> None:
    ok(cli("subscribers", "add", "gone@example.com", "-l", "weekly"))
    for email in (" Gone@Example.com", "other@example.com"):
        db.execute(
            "INSERT INTO signup_requests (email, lists, ip, user_agent, received_at) "
            "VALUES (?, '[\"weekly\"]', '192.0.2.7', 'Mozilla/5.0', '2026-11-30 10:00:00')",
            email,
        )
    assert db.one("SELECT count(*) FROM consents") == 1  # `add` records one
    ok(cli("subscribers", "forget", "gone@example.com"))
    assert [r[0] for r in db.rows("SELECT email FROM signup_requests")] == ["other@example.com"]
    assert db.one("SELECT count(*) FROM consents") == 0


def test_lists_delete(cli: Cli, weekly: None) -> None:
    ok(cli("subscribers", "add", "a@example.com", "-l", "weekly"))
    ok(cli("lists", "create", "sent"))
    sent_id = db.one("SELECT id FROM lists WHERE name = 'sent'")
    db.execute(
        "INSERT INTO campaigns (list_id, issue_number, status, created_at) "
        "VALUES (?, 25, 'sent', '2024-06-22 00:00:00')",
        sent_id,
    )

    result = ok(cli("lists", "delete", "weekly"))
    assert "deleted list 'weekly' and its 1 membership(s)" in result.stderr
    assert db.one("SELECT count(*) FROM memberships") == 0
    assert db.one("SELECT count(*) FROM subscribers") == 1

    refused(cli("lists", "delete", "sent"), "sent campaign", "--force")
    ok(cli("lists", "delete", "sent", "--force"))
    assert db.one("SELECT count(*) FROM lists") == 0
    assert db.one("SELECT count(*) FROM campaigns WHERE list_id IS NULL") == 1  # record kept


def test_export_to_a_file_round_trips(cli: Cli, weekly: None, project: Path) -> None:
    (project / "in.csv").write_text(
        'email,name,company\na@example.com,"A, Jr",Acme\nb@example.com,,\n'
    )
    ok(cli("subscribers", "import", "in.csv", "-l", "weekly"))
    result = ok(cli("subscribers", "export", "-l", "weekly", "--out", "out.csv"))
    assert "exported 2 subscriber(s)" in result.stderr
    assert (
        project / "out.csv"
    ).read_text() == 'email,name,company\na@example.com,"A, Jr",Acme\nb@example.com,,\n'
    ok(cli("lists", "create", "copy"))
    report = ok(cli("subscribers", "import", "out.csv", "-l", "copy"))
    assert "2 added" in report.stderr
    lines = ok(cli("subscribers", "export", "-l", "weekly", "-f", "jsonl")).stdout.splitlines()
    assert [json.loads(line)["email"] for line in lines] == ["a@example.com", "b@example.com"]
    assert json.loads(lines[0]) == {
        "email": "a@example.com",
        "name": "A, Jr",
        "attributes": {"company": "Acme"},
    }


def test_show_prints_the_consent_records(cli: Cli, weekly: None) -> None:
    ok(cli("subscribers", "add", "kim@example.com", "--list", "weekly"))
    db.execute(
        "INSERT INTO consents (subscriber_id, list_id, method, ip, user_agent, requested_at) "
        "SELECT s.id, l.id, 'form', '192.0.2.7', 'Mozilla/5.0', '2026-11-30 10:00:00' "
        "FROM subscribers s, lists l"
    )
    lines = ok(cli("subscribers", "show", "kim@example.com")).stdout.splitlines()
    consent = lines[lines.index("consent:") + 1 : lines.index("consent:") + 3]
    assert consent[0].startswith("  weekly: command (cli) ") and ", confirmed " in consent[0]
    assert consent[1] == (
        "  weekly: form 2026-11-30 10:00 UTC, not confirmed from 192.0.2.7 with Mozilla/5.0"
    )
    record = json.loads(
        ok(cli("subscribers", "show", "kim@example.com", "--format", "json")).stdout
    )
    assert [c["method"] for c in record["consents"]] == ["command", "form"]
