"""`newsletter send`, `send-test` and `log` over real HTTP: moto's SES emulator for the happy
path, our stub (tests/support/ses_stub.py) to see every header that arrives."""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from collections.abc import Iterator
from email.header import decode_header, make_header
from email.utils import parseaddr
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipeline.audience.queries import AudienceTx
from pipeline.audience.subscribers import forget, unsubscribe
from pipeline.audience.tokens import verify_token
from tests.support import db
from tests.support.cli import TEST_SECRET
from tests.support.db import rows as db_rows
from tests.support.sending import (
    ISSUE,
    SUBJECT,
    Cli,
    assert_accounted,
    assert_log_matches_stub,
    by_status,
    campaign,
    counts,
    deliveries,
    make_list,
    ok,
    people,
    received,
    refused,
    send,
    store,
    use_ses,
)
from tests.support.ses_stub import SesStub

SECRET = TEST_SECRET.encode()
KOREAN = [
    ("hong@example.com", "홍길동"),
    ("kim@example.com", "김철수"),
    ("pat@example.com", 'O\'Brien, "Pat"'),
    ("plain@example.com", ""),
]


def decoded(value: str) -> str:
    return str(make_header(decode_header(value)))


def display_name(address: str) -> str:
    return decoded(parseaddr(address)[0])


# --- moto's SES emulator: the happy path ------------------------------------------------------


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto(moto_url: str, project: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    use_ses(monkeypatch, moto_url)
    ses = boto3.client("ses", endpoint_url=moto_url, region_name="us-east-1")
    ses.verify_email_identity(EmailAddress="weekly@example.com")
    return moto_url


def moto_sent() -> list[Any]:
    """The messages moto's emulator accepted (its own record, in this process)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages)


def test_happy_path_through_moto(cli: Cli, moto: str) -> None:
    make_list(cli, "weekly", [*KOREAN, *people(6)])
    make_list(cli, "other", [("other-only@example.com", "")])
    ok(cli("subscribers", "unsubscribe", "kim@example.com", "--list", "weekly"))

    result = ok(send(cli))

    # The plan: what, to whom, from whom, how long, what it costs; moto has no GetAccount.
    assert f"subject:    {SUBJECT}" in result.stderr
    assert "from:       Article Weekly <weekly@example.com>" in result.stderr
    assert "recipients: 9" in result.stderr
    assert "SES cost about $0.00" in result.stderr
    assert "does not report the account quota (GetAccount); going on at --rate 1000/s" in (
        result.stderr
    )
    assert "campaign finished: 9 sent" in result.stderr

    sent = moto_sent()
    to = [m.destinations["ToAddresses"] for m in sent]
    assert all(len(addresses) == 1 for addresses in to)
    addresses = sorted(parseaddr(a[0])[1] for a in to)
    expected = sorted(e for e, _ in [*KOREAN, *people(6)] if e != "kim@example.com")
    assert addresses == expected  # each active member exactly once, nobody else
    assert {m.subject for m in sent} == {SUBJECT}
    names = {parseaddr(a[0])[1]: display_name(a[0]) for a in to}
    assert names["hong@example.com"] == "홍길동"
    assert names["pat@example.com"] == 'O\'Brien, "Pat"'
    assert names["reader003@example.com"] == "독자 3"
    assert names["plain@example.com"] == ""
    assert all(a[0].isascii() for a in to)  # names travel RFC 2047-encoded

    rows = deliveries()
    assert set(rows) == set(expected)
    assert {r["status"] for r in rows.values()} == {"sent"}
    assert {r["message_id"] for r in rows.values()} == {m.id for m in sent}
    # Each row sent, at least one attempt recorded. Not "exactly one attempt": moto on a
    # loaded machine may drop a connection, which the sender retries (that is timing, not
    # behaviour); a retry that sent twice would fail the exactly-once check above.
    assert all(r["sent_at"] and r["attempts"] >= 1 for r in rows.values())
    found = campaign()
    assert found is not None and found.status == "finished" and found.finished_at


# --- what arrives: headers, names, bodies (the stub keeps every header) ---------------------


def test_every_message_carries_its_own_unsubscribe_and_list_headers(
    cli: Cli, stub: SesStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_UNSUBSCRIBE_MAILTO", "unsubscribe@example.com")
    monkeypatch.setenv("NEWSLETTER_CONFIGURATION_SET", "newsletter-events")
    make_list(cli, "weekly", KOREAN)
    ok(send(cli))

    with store() as db, db.begin(AudienceTx, write=False) as tx:
        list_id = tx.require_list("weekly").id
        ids = {email: tx.subscriber_by_key(email).id for email, _ in KOREAN}  # type: ignore[union-attr]
    found = campaign()
    assert found is not None
    assert received(stub) == dict.fromkeys(ids, 1)
    delivery_ids = dict(db_rows("SELECT email, id FROM deliveries WHERE campaign_id = ?", found.id))
    for message in stub.accepted:
        email = message.recipient_addresses[0]
        assert message.subject == SUBJECT
        assert message.from_address == "Article Weekly <weekly@example.com>"
        assert message.reply_to == ["editors@example.com"]
        name = dict(KOREAN)[email]
        assert message.to_decoded == [f"{name} <{email}>" if name else email]

        unsubscribe_header = message.headers["List-Unsubscribe"]
        web, mailto = (part.strip() for part in unsubscribe_header.split(","))
        assert web.startswith("<https://weekly.example.com/unsubscribe/") and web.endswith(">")
        url = web[1:-1]
        assert verify_token(SECRET, url.rsplit("/", 1)[1]) == (ids[email], list_id)
        assert mailto == "<mailto:unsubscribe@example.com?subject=unsubscribe>"
        assert message.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert message.headers["List-Id"] == "Article Weekly <weekly.example.com>"
        assert message.configuration_set == "newsletter-events"
        row_id = str(delivery_ids[email])
        assert message.tags == {"campaign": f"issue-25-{found.id}", "delivery": row_id}
        # The footer link in both parts is this person's own, the one in the header.
        assert url in (message.html or "")
        assert url in (message.text or "")
        others = [u for e, u in _urls(stub).items() if e != email]
        assert not any(other in (message.html or "") for other in others)


def _urls(stub: SesStub) -> dict[str, str]:
    return {
        m.recipient_addresses[0]: m.headers["List-Unsubscribe"].split(",")[0].strip()[1:-1]
        for m in stub.accepted
    }


def test_headers_without_the_optional_settings_and_with_a_korean_list_name(
    cli: Cli, stub: SesStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_NAME", "아티클 위클리")
    make_list(cli, "weekly", KOREAN[:1])
    ok(send(cli))
    (message,) = stub.accepted
    assert message.headers["List-Unsubscribe"].count("<") == 1  # no mailto: configured
    assert "mailto:" not in message.headers["List-Unsubscribe"]
    assert message.configuration_set is None
    # Tagged all the same: an identity's default configuration set publishes events too.
    assert set(message.tags) == {"campaign", "delivery"}
    list_id = message.headers["List-Id"]
    assert list_id.isascii()
    assert decoded(list_id) == "아티클 위클리 <weekly.example.com>"


def test_international_addresses_go_out_as_ses_accepts_them(cli: Cli, stub: SesStub) -> None:
    """A Korean domain travels in Punycode; a Korean mailbox name cannot go through SES at
    all, so that one person fails with the reason and everyone else still gets the issue."""
    make_list(cli, "weekly", [("reader@한국.kr", "홍길동"), ("독자@example.com", ""), *KOREAN[:1]])
    result = ok(send(cli))
    assert "campaign finished: 2 sent, 1 failed" in result.stderr
    assert received(stub) == {"reader@xn--3e0b707e.kr": 1, "hong@example.com": 1}
    assert stub.accepted_to("reader@xn--3e0b707e.kr")[0].to_decoded == [
        "홍길동 <reader@xn--3e0b707e.kr>"
    ]
    rows = deliveries()
    assert rows["reader@한국.kr"]["status"] == "sent"
    assert rows["독자@example.com"]["status"] == "failed"
    assert "non-ASCII mailbox name" in rows["독자@example.com"]["error"]


# --- recipients are fixed when the campaign starts -------------------------------------------


def _set_status(email: str, status: str) -> None:
    from datetime import UTC, datetime

    with store() as db, db.begin(AudienceTx) as tx:
        found = tx.subscriber_by_key(email)
        assert found is not None
        tx.set_subscriber_status(found.id, status, datetime.now(UTC))


def test_only_active_members_of_the_list_are_targeted(cli: Cli, stub: SesStub) -> None:
    members = people(8)
    make_list(cli, "weekly", members)
    make_list(cli, "other", [("stranger@example.com", ""), members[0]])
    ok(cli("subscribers", "unsubscribe", members[1][0], "--list", "weekly"))
    ok(cli("subscribers", "unsubscribe", members[2][0]))  # from everything
    _set_status(members[3][0], "bounced")
    _set_status(members[4][0], "complained")
    ok(cli("subscribers", "forget", members[5][0]))

    result = ok(send(cli))
    assert "recipients: 3" in result.stderr
    wanted = {members[0][0], members[6][0], members[7][0]}
    assert received(stub) == dict.fromkeys(wanted, 1)
    assert set(deliveries()) == wanted
    assert_accounted(counts(), 3)


def test_people_suppressed_after_the_start_are_skipped(
    cli: Cli, stub: SesStub, project: Path
) -> None:
    """The check just before each message: the campaign starts, SES pauses the account,
    people leave; on resume they are `skipped`, never sent to."""
    members = people(10)
    make_list(cli, "weekly", members)
    stub.paused = True
    result = send(cli)
    assert result.code != 0
    assert counts()["pending"] == 10
    gone = [members[2][0], members[5][0], members[7][0], members[9][0]]
    with store() as db:
        unsubscribe(db, gone[0], "weekly")
        unsubscribe(db, gone[1])
        forget(db, gone[2])
    _set_status(gone[3], "bounced")
    ok(cli("subscribers", "add", "newcomer@example.com", "--list", "weekly"))

    stub.paused = False
    result = ok(send(cli))
    assert "campaign finished: 6 sent, 4 skipped" in result.stderr
    rows = deliveries()
    assert "newcomer@example.com" not in rows  # joined after the start: not in this campaign
    skipped = {email for email, row in rows.items() if row["status"] == "skipped"}
    assert skipped == {gone[0], gone[1], gone[3], None}  # a forgotten person keeps no address
    reasons = sorted(row["error"] for row in rows.values() if row["status"] == "skipped")
    assert reasons == [
        "bounced since the campaign started",
        "forgotten since the campaign started",
        "unsubscribed from the list since the campaign started",
        "unsubscribed since the campaign started",
    ]
    assert set(received(stub)) == {m[0] for m in members} - set(gone)
    assert max(received(stub).values()) == 1
    assert_accounted(counts(), 10)


# --- resuming, finishing, retrying ---------------------------------------------------------------


def test_a_finished_campaign_sends_nothing_and_says_so(cli: Cli, stub: SesStub) -> None:
    make_list(cli, "weekly", people(3))
    ok(send(cli))
    before = stub.counts["send_requests"]
    result = refused(send(cli), "already sent to 'weekly' (3 sent); nothing to send")
    assert "newsletter log" in result.stderr
    assert stub.counts["send_requests"] == before
    assert received(stub) == dict.fromkeys((p[0] for p in people(3)), 1)


def test_retry_failed_and_retry_unknown_reopen_exactly_those_rows(
    cli: Cli, stub: SesStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = people(6)
    make_list(cli, "weekly", members)
    rejected, lost = members[1][0], members[4][0]
    stub.reject = {rejected: "Email address is not verified."}
    # Concurrency 1: the scripted outcomes land on known people, in order.
    stub.script = ["ok", "ok", "ok", "ok", "lost"]
    result = ok(send(cli, "--concurrency", "1"))
    assert "campaign finished: 4 sent, 1 failed, 1 unknown" in result.stderr
    rows = deliveries()
    assert by_status(rows, "failed") == {rejected}
    assert by_status(rows, "unknown") == {lost}
    assert "MessageRejected" in rows[rejected]["error"]
    assert_log_matches_stub(stub, rows)

    result = refused(send(cli), "nothing to send")
    assert "--retry-unknown resends the 1 unknown" in result.stderr
    assert "--retry-failed retries the 1 failed" in result.stderr

    stub.reject = {}
    stub.reset()
    result = ok(send(cli, "--retry-failed"))
    assert "sending again: 1 failed" in result.stderr
    assert received(stub) == {rejected: 1}
    rows = deliveries()
    assert by_status(rows, "unknown") == {lost}
    assert rows[rejected]["status"] == "sent" and rows[rejected]["error"] is None

    stub.reset()
    monkeypatch.setenv("NEWSLETTER_UNKNOWN_SETTLE_SECONDS", "0")  # no events flow here
    result = ok(send(cli, "--retry-unknown"))
    assert "sending again: 1 unknown" in result.stderr
    assert received(stub) == {lost: 1}
    assert {row["status"] for row in deliveries().values()} == {"sent"}
    refused(send(cli, "--retry-unknown", "--retry-failed"), "nothing to send")


# --- dry run and confirmation ------------------------------------------------------------------


def test_dry_run_calls_no_ses_logs_every_row_and_does_not_block_a_real_send(
    cli: Cli, stub: SesStub
) -> None:
    members = people(5)
    make_list(cli, "weekly", members)
    result = ok(cli("send", ISSUE, "--list", "weekly", "--dry-run"))
    assert "DRY RUN (no SES call)" in result.stderr
    assert stub.requests == 0 and stub.accepted == []
    rows = deliveries(dry_run=True)
    assert set(rows) == {m[0] for m in members}
    assert {r["status"] for r in rows.values()} == {"sent"}
    assert all(r["message_id"].startswith("dry-run-") for r in rows.values())
    assert campaign() is None  # no real campaign yet
    ok(cli("send", ISSUE, "--list", "weekly", "--dry-run"))  # a dry run can be repeated

    ok(send(cli))
    assert received(stub) == dict.fromkeys((m[0] for m in members), 1)
    jsonl = ok(cli("log", "25", "--list", "weekly", "--dry-run", "--format", "jsonl")).stdout
    assert len(jsonl.splitlines()) == 5


def test_without_yes_and_without_a_terminal_it_refuses_and_sends_nothing(
    cli: Cli, stub: SesStub
) -> None:
    make_list(cli, "weekly", people(3))
    result = refused(cli("send", ISSUE, "--list", "weekly"), "not confirmed")
    assert "--yes" in result.stderr
    assert "recipients: 3" in result.stderr  # the plan was shown first
    assert stub.counts["send_requests"] == 0
    assert campaign() is None


# --- refusals before anything is sent ------------------------------------------------------


def test_send_refuses_an_issue_with_check_errors(cli: Cli, stub: SesStub, project: Path) -> None:
    make_list(cli, "weekly", people(2))
    broken = project / "issues" / "broken.md"
    broken.write_text('---\ntitle: "x"\nnumber: 7\n---\n## Not a link\n- x\n', encoding="utf-8")
    result = refused(cli("send", broken, "--list", "weekly", "--yes"), "has 1 error(s)")
    assert "article heading is not a link" in result.stderr
    assert stub.requests == 0


def test_send_refuses_an_unknown_list(cli: Cli, stub: SesStub) -> None:
    make_list(cli, "weekly", people(2))
    refused(cli("send", ISSUE, "--list", "weekyl", "--yes"), "weekyl")
    assert stub.counts["send_requests"] == 0


def test_send_refuses_without_a_secret_key(
    cli: Cli, stub: SesStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_list(cli, "weekly", people(2))
    monkeypatch.delenv("NEWSLETTER_SECRET_KEY")
    refused(send(cli), "secret_key is not set", "NEWSLETTER_SECRET_KEY")
    assert stub.requests == 0


def test_send_refuses_a_list_with_nobody_to_send_to(cli: Cli, stub: SesStub) -> None:
    ok(cli("lists", "create", "weekly"))
    refused(send(cli), "no active subscribers")
    assert stub.counts["send_requests"] == 0


def test_send_without_a_region_says_how_to_set_one(
    cli: Cli, stub: SesStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_list(cli, "weekly", people(1))
    monkeypatch.delenv("AWS_REGION")
    refused(send(cli), "no AWS region", "AWS_REGION")


# --- the log --------------------------------------------------------------------------------

DELIVERY_KEYS = ["email", "status", "message_id", "error", "attempts"]
TIME_KEYS = ["claimed_at", "sent_at", "updated_at"]


def test_log_summaries_and_per_recipient_rows(cli: Cli, stub: SesStub) -> None:
    members = people(4)
    make_list(cli, "weekly", members)
    make_list(cli, "other", people(2, prefix="other"))
    stub.reject = [members[2][0]]
    ok(send(cli))
    ok(send(cli, list_name="other"))

    summary = json.loads(ok(cli("log", "--format", "json")).stdout)
    assert [(c["list"], c["status"], c["targeted"], c["sent"], c["failed"]) for c in summary] == [
        ("weekly", "finished", 4, 3, 1),
        ("other", "finished", 2, 2, 0),
    ]
    table = ok(cli("log")).stdout
    assert "weekly" in table and "other" in table and "finished" in table

    refused(cli("log", ISSUE), "several lists", "--list")
    result = ok(cli("log", ISSUE, "--list", "weekly", "--format", "jsonl"))
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    records = [json.loads(line) for line in lines]  # nothing but JSON on stdout
    for record in records:
        assert list(record) == DELIVERY_KEYS + TIME_KEYS
    by_email = {r["email"]: r for r in records}
    assert by_email[members[2][0]]["status"] == "failed"
    assert "MessageRejected" in by_email[members[2][0]]["error"]
    assert by_email[members[0][0]]["message_id"] == stub.accepted_to(members[0][0])[0].message_id
    assert by_email[members[0][0]]["sent_at"] and by_email[members[0][0]]["attempts"] == 1

    failed = ok(cli("log", "25", "--list", "weekly", "--status", "failed", "--format", "jsonl"))
    assert [json.loads(line)["email"] for line in failed.stdout.splitlines()] == [members[2][0]]

    text = ok(cli("log", "25", "--list", "weekly", "--format", "csv")).stdout
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == DELIVERY_KEYS + TIME_KEYS
    assert sorted(r["status"] for r in rows) == ["failed", "sent", "sent", "sent"]

    refused(cli("log", "24"), "no campaign of issue 24")


def test_subscribers_show_has_the_persons_history(cli: Cli, stub: SesStub) -> None:
    make_list(cli, "weekly", KOREAN[:2])
    ok(cli("send", ISSUE, "--list", "weekly", "--dry-run"))
    ok(send(cli))
    record = json.loads(
        ok(cli("subscribers", "show", "hong@example.com", "--format", "json")).stdout
    )
    real = [h for h in record["history"] if not h["dry_run"]]
    assert len(record["history"]) == 2
    (entry,) = real
    assert entry["issue"] == 25 and entry["list"] == "weekly" and entry["status"] == "sent"
    assert entry["message_id"] == stub.accepted_to("hong@example.com")[0].message_id
    assert entry["sent_at"]
    lines = ok(cli("subscribers", "show", "hong@example.com")).stdout.splitlines()
    history = lines[lines.index("history:") + 1 :]
    assert len(history) == 2
    assert history[0].startswith("  issue 25 to weekly (dry run): sent 20")
    assert history[1].startswith("  issue 25 to weekly: sent 20")


# --- test copies ---------------------------------------------------------------------------


def test_send_test_prefixes_the_subject_and_is_logged_apart(
    cli: Cli, stub: SesStub, project: Path
) -> None:
    make_list(cli, "weekly", KOREAN[:1])
    result = ok(
        cli("send-test", ISSUE, "--to", "hong@example.com", "--to", "Editor <ed@elsewhere.org>")
    )
    assert "sent a test copy to hong@example.com" in result.stderr
    assert sorted(received(stub)) == ["ed@elsewhere.org", "hong@example.com"]
    assert {m.subject for m in stub.accepted} == {f"[TEST] {SUBJECT}"}
    assert stub.accepted_to("ed@elsewhere.org")[0].to_decoded == ["Editor <ed@elsewhere.org>"]
    assert all("List-Unsubscribe" in m.headers for m in stub.accepted)

    assert json.loads(ok(cli("log", "--format", "json")).stdout) == []  # no campaign
    logged = [
        tuple(row)
        for row in db.rows(
            "SELECT issue_number, email, status, message_id FROM test_sends ORDER BY id"
        )
    ]
    assert db.one("SELECT count(*) FROM deliveries") == 0
    ids = {m.recipient_addresses[0]: m.message_id for m in stub.accepted}
    assert [(n, e, s) for n, e, s, _ in logged] == [
        (25, "hong@example.com", "sent"),
        (25, "ed@elsewhere.org", "sent"),
    ]
    assert {row[3] for row in logged} == set(ids.values())
    # A test copy is not a campaign: the real send still goes to everyone.
    ok(send(cli))
    assert received(stub)["hong@example.com"] == 2


def test_send_test_reports_a_rejected_address(cli: Cli, stub: SesStub) -> None:
    stub.reject = ["nobody@example.com"]
    result = cli("send-test", ISSUE, "--to", "nobody@example.com", "--to", "ok@example.com")
    assert result.code == 1
    assert "failed to send a test copy to nobody@example.com" in result.stderr
    assert "MessageRejected" in result.stderr
    assert sorted(received(stub)) == ["ok@example.com"]


@pytest.mark.single_backend  # never opens the store
def test_send_test_checks_every_address_before_sending_any(cli: Cli, stub: SesStub) -> None:
    result = refused(
        cli("send-test", ISSUE, "--to", "ok@example.com", "--to", "not an address"),
        "not an address",
        "no test copy sent",
    )
    assert "Name <a@example.com>" in result.stderr
    assert stub.counts["send_requests"] == 0


def test_a_dry_run_does_not_count_as_a_sent_campaign_when_deleting_a_list(
    cli: Cli, stub: SesStub
) -> None:
    make_list(cli, "trial", people(2))
    ok(cli("send", ISSUE, "--list", "trial", "--dry-run"))
    ok(cli("lists", "delete", "trial"))
    make_list(cli, "weekly", people(2))
    ok(send(cli))
    refused(cli("lists", "delete", "weekly"), "sent campaign")


def test_a_terminal_gets_a_progress_bar_and_a_pipe_gets_log_lines(cli: Cli, stub: SesStub) -> None:
    import os
    import pty
    import subprocess
    import sys

    from tests.support.cli import ROOT

    make_list(cli, "weekly", people(30))
    stub.delay = 0.01
    primary, secondary = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "120", "TERM": "xterm"}
    command = [sys.executable, "-m", "pipeline", "send", str(ISSUE), "--list", "weekly", "--yes"]
    child = subprocess.Popen(
        [*command, "--rate", "100", "--concurrency", "2"],
        env=env,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
    )
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    assert child.wait(timeout=60) == 0
    os.close(primary)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "sending" in screen and "━" in screen  # rich's bar
    assert "30/30" in screen and "sent 30" in screen
    assert "campaign finished: 30 sent" in screen

    make_list(cli, "later", people(5, prefix="late"))
    piped = ok(send(cli, list_name="later"))
    assert "━" not in piped.stderr
    assert "sent 5, failed 0, skipped 0 of 5" in piped.stderr
