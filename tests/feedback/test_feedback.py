"""SES events, however they arrive, applied to the store; and the campaign report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipeline.audience.queries import AudienceTx, recipients
from pipeline.db import Store
from tests.support import db
from tests.support.cli import SAMPLE_ISSUE
from tests.support.sending import deliveries, make_list, ok, people, send, store, use_ses
from tests.support.ses_stub import SesStub, default_account

MEMBERS = people(5)


def mail(message_id: str, email: str) -> dict[str, Any]:
    return {
        "messageId": message_id,
        "timestamp": "2026-11-20T10:00:00.000Z",
        "destination": [email],
    }


def bounce(message_id: str, email: str, kind: str = "Permanent") -> dict[str, Any]:
    return {
        "eventType": "Bounce",
        "mail": mail(message_id, email),
        "bounce": {
            "bounceType": kind,
            "bounceSubType": "General" if kind == "Permanent" else "MailboxFull",
            "bouncedRecipients": [{"emailAddress": email, "diagnosticCode": "smtp; 550 5.1.1"}],
            "timestamp": "2026-11-20T10:00:05.000Z",
        },
    }


def complaint(message_id: str, email: str) -> dict[str, Any]:
    return {
        "eventType": "Complaint",
        "mail": mail(message_id, email),
        "complaint": {
            "complainedRecipients": [{"emailAddress": email}],
            "complaintFeedbackType": "abuse",
            "timestamp": "2026-11-20T11:00:00.000Z",
        },
    }


def simple(kind: str, message_id: str, email: str, **detail: Any) -> dict[str, Any]:
    key = {"Delivery": "delivery", "Open": "open", "Click": "click", "Reject": "reject"}[kind]
    return {
        "eventType": kind,
        "mail": mail(message_id, email),
        key: {"timestamp": "2026-11-20T10:01:00.000Z", **detail},
    }


def envelope(event: dict[str, Any], message_id: str = "sns-1") -> dict[str, Any]:
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:ses-events",
        "Message": json.dumps(event),
        "Timestamp": "2026-11-20T10:00:06.000Z",
    }


def write_lines(path: Path, documents: list[Any]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    return path


@pytest.fixture
def sent(project: Path, cli, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Issue 25 sent to `weekly` (5 people) through the SES stub: email -> message id."""
    with SesStub() as stub:
        use_ses(monkeypatch, stub.endpoint_url)
        make_list(cli, "weekly", MEMBERS)
        make_list(cli, "announcements", MEMBERS[:2])
        ok(send(cli))
    return {email: row["message_id"] for email, row in deliveries().items()}


def status_of(email: str) -> str:
    with store() as opened, opened.begin(AudienceTx, write=False) as tx:
        found = tx.subscriber_by_key(email.lower())
        assert found is not None
        return found.status


def test_bounce_and_complaint_suppress_from_every_list(project, cli, sent) -> None:
    (bounced, complained, *_rest) = [email for email, _ in MEMBERS]
    path = write_lines(
        project / "events.jsonl",
        [
            simple("Delivery", sent[bounced], bounced),
            bounce(sent[bounced], bounced),
            envelope(complaint(sent[complained], complained)),
        ],
    )
    result = cli("events", "ingest", path)
    assert result.code == 0, result.output
    assert f"{bounced}: active -> bounced" in result.stderr
    assert f"{complained}: active -> complained" in result.stderr
    assert "3 event(s) recorded" in result.stderr
    assert status_of(bounced) == "bounced" and status_of(complained) == "complained"
    with Store.open(project_db()) as opened:
        for name in ("weekly", "announcements"):
            receiving = {r.email for r in recipients(opened, name)}
            assert bounced not in receiving and complained not in receiving


def project_db() -> str:
    import os

    return os.environ["NEWSLETTER_DATABASE_URL"]


def fresh_queue_name() -> str:
    """A queue of its own: moto's queues outlive its server, in the whole test process."""
    import secrets

    return f"ses-events-{secrets.token_hex(4)}"


def message_ids_by_issue(email: str) -> dict[int, str]:
    """Issue number -> the SES message id of `email`'s copy of it."""
    rows = db.rows(
        "SELECT c.issue_number, d.message_id FROM deliveries d "
        "JOIN campaigns c ON c.id = d.campaign_id WHERE d.email = ?",
        email,
    )
    return {number: message_id for number, message_id in rows}


def test_the_same_events_twice_change_nothing(project, cli, sent) -> None:
    email = MEMBERS[2][0]
    path = write_lines(
        project / "events.jsonl",
        [simple("Delivery", sent[email], email), envelope(bounce(sent[email], email))],
    )
    assert cli("events", "ingest", path).code == 0
    again = cli("events", "ingest", path)
    assert again.code == 0
    assert "0 event(s) recorded" in again.stderr and "2 duplicate(s)" in again.stderr
    # The bare event and the same event in an SNS envelope are one event.
    write_lines(project / "bare.jsonl", [bounce(sent[email], email)])
    assert "1 duplicate(s)" in cli("events", "ingest", project / "bare.jsonl").stderr
    report = json.loads(cli("report", "25", "--format", "json").stdout)[0]
    assert report["delivered"] == 1 and report["bounced"] == 1


def test_unknown_message_ids_and_bad_lines(project, cli, sent) -> None:
    stranger = "nobody@example.net"
    member = MEMBERS[3][0]
    path = project / "events.jsonl"
    path.write_text(
        json.dumps(bounce("not-ours-1", stranger))
        + "\n{broken json\n"
        + json.dumps({"Type": "SubscriptionConfirmation", "TopicArn": "arn:x", "Message": "hi"})
        + "\n"
        + json.dumps({"hello": "world"})
        + "\n"
        # an unknown message id for a known address (a test copy): still suppresses
        + json.dumps(bounce("not-ours-2", member))
        + "\n",
        encoding="utf-8",
    )
    result = cli("events", "ingest", path)
    assert result.code == 1
    assert "line 2: not JSON" in result.stderr
    assert "line 4: neither an SNS notification nor an SES event" in result.stderr
    assert "2 event(s) recorded (2 for unknown messages)" in result.stderr
    assert "1 without an event" in result.stderr
    assert status_of(member) == "bounced"


def _issue_copy(project: Path, number: int) -> Path:
    text = SAMPLE_ISSUE.read_text(encoding="utf-8").replace("number: 25", f"number: {number}")
    path = project / "issues" / f"issue-{number}.md"
    path.write_text(text, encoding="utf-8")
    return path


def test_three_soft_bounces_in_a_row_make_an_address_bounced(project, cli, monkeypatch) -> None:
    email = MEMBERS[0][0]
    with SesStub() as stub:
        use_ses(monkeypatch, stub.endpoint_url)
        make_list(cli, "weekly", MEMBERS)
        for number in (26, 27, 28):
            ok(
                cli(
                    "send",
                    _issue_copy(project, number),
                    "--list",
                    "weekly",
                    "--yes",
                    "--rate",
                    "1000",
                )
            )
        assert stub.per_recipient()[email] == 3
    ids = message_ids_by_issue(email)
    for number in (26, 27):
        write_lines(project / f"soft{number}.jsonl", [bounce(ids[number], email, "Transient")])
        assert cli("events", "ingest", project / f"soft{number}.jsonl").code == 0
    assert status_of(email) == "active"
    write_lines(project / "soft28.jsonl", [bounce(ids[28], email, "Transient")])
    result = cli("events", "ingest", project / "soft28.jsonl")
    assert f"{email}: active -> bounced" in result.stderr
    assert status_of(email) == "bounced"


def test_report_counts_rates_links_and_missing(project, cli, sent) -> None:
    emails = [email for email, _ in MEMBERS]
    events: list[dict[str, Any]] = [simple("Delivery", sent[e], e) for e in emails[1:]]
    events += [bounce(sent[emails[0]], emails[0]), complaint(sent[emails[1]], emails[1])]
    events += [simple("Open", sent[e], e) for e in emails[1:4]]
    events += [simple("Open", sent[emails[1]], emails[1], userAgent="again")]
    events += [
        simple("Click", sent[emails[2]], emails[2], link="https://stripe.com/blog/a"),
        simple("Click", sent[emails[3]], emails[3], link="https://stripe.com/blog/a"),
        simple("Click", sent[emails[3]], emails[3], link="https://fs.blog/b"),
    ]
    assert cli("events", "ingest", write_lines(project / "e.jsonl", events)).code == 0
    ok(cli("subscribers", "unsubscribe", emails[4], "--list", "weekly"))
    result = cli("report", "25", "--list", "weekly", "--format", "json")
    assert result.code == 0, result.output
    (report,) = json.loads(result.stdout)
    expected = {
        "targeted": 5,
        "sent": 5,
        "delivered": 4,
        "bounced": 1,
        "bounced_permanent": 1,
        "bounced_transient": 0,
        "complained": 1,
        "unsubscribed": 1,
        "unique_opens": 3,
        "unique_clicks": 2,
        "failed": 0,
        "unknown": 0,
    }
    assert {k: report[k] for k in expected} == expected
    assert report["bounce_rate"] == pytest.approx(0.2) and report["bounce_rate_flag"] == "danger"
    assert report["complaint_rate"] == pytest.approx(0.25)
    assert report["complaint_rate_flag"] == "danger"
    assert report["opens_clicks_approximate"] is True
    assert report["top_links"][0] == {
        "link": "https://stripe.com/blog/a",
        "unique_clicks": 2,
        "clicks": 2,
    }
    table = cli("report", "25")
    assert "bounce rate" in table.stdout and "DANGER" in table.stdout
    missing = cli("report", "25", "--list", "weekly", "--missing", "--format", "jsonl")
    rows = [json.loads(line) for line in missing.stdout.splitlines()]
    assert rows == [{"email": emails[0], "status": "sent", "reason": "bounced (Permanent)"}]


def test_poll_an_sqs_queue(project, cli, sent, monkeypatch) -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", endpoint)
        sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=endpoint)
        queue = sqs.create_queue(QueueName=fresh_queue_name())["QueueUrl"]
        email = MEMBERS[1][0]
        sqs.send_message(
            QueueUrl=queue, MessageBody=json.dumps(envelope(complaint(sent[email], email)))
        )
        sqs.send_message(
            QueueUrl=queue, MessageBody=json.dumps(simple("Delivery", sent[email], email))
        )
        hostile = ["not json at all", "[" * 100_000, '{"eventType": NaN}', '["Bounce"]']
        for body in hostile:
            sqs.send_message(QueueUrl=queue, MessageBody=body)
        result = cli("events", "poll", "--queue", queue, "--once", "--wait", "0")
        assert result.code == 1, result.output  # the bad messages are reported
        assert "Traceback" not in result.output
        assert f"{len(hostile)} invalid" in result.stderr
        assert "2 event(s) recorded" in result.stderr
        assert status_of(email) == "complained"
        attributes = sqs.get_queue_attributes(
            QueueUrl=queue,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        left = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
        assert left == len(hostile)  # processed ones were deleted; bad ones stay for the DLQ
    finally:
        server.stop()


def test_odd_shapes_inside_an_event_are_tolerated(project, cli, sent) -> None:
    email = MEMBERS[4][0]
    odd = bounce(sent[email], email)
    odd["bounce"]["bouncedRecipients"] = ["not-an-object", {"emailAddress": email}]
    odd["mail"]["destination"] = "not-a-list"
    path = write_lines(project / "odd.jsonl", [odd, {"eventType": "Open", "mail": "nope"}])
    result = cli("events", "ingest", path)
    assert result.code == 0, result.output
    assert "2 event(s) recorded (1 for unknown messages)" in result.stderr
    assert status_of(email) == "bounced"


HOSTILE_LINES = {
    "deep-brackets": "[" * 100_000,
    "deep-in-an-event": '{"eventType": "Open", "mail": ' + "[" * 5_000 + "]" * 5_000 + "}",
    "nan": '{"eventType": "Open", "mail": {"messageId": NaN}}',
    "infinity": '{"eventType": "Open", "x": -Infinity}',
    "overflowing-float": '{"eventType": "Open", "x": 1e999}',
    "5000-digits": '{"eventType": "Open", "x": ' + "9" * 5_000 + "}",
    "lone-surrogate": '{"eventType": "Open", "mail": {"destination": ["\\ud800@example.com"]}}',
    "type-is-a-list": '{"eventType": ["Bounce"]}',
    "type-is-an-object": '{"notificationType": {"Bounce": 1}}',
    "envelope-message-not-a-string": json.dumps(
        {"Type": "Notification", "TopicArn": "arn", "Message": {"eventType": "Bounce"}}
    ),
    "envelope-message-deep": json.dumps(
        {"Type": "Notification", "TopicArn": "arn", "Message": "[" * 100_000}
    ),
    "envelope-message-nan": json.dumps(
        {"Type": "Notification", "TopicArn": "arn", "Message": '{"eventType": NaN}'}
    ),
    "a-number": "7",
    "a-string": '"Bounce"',
}


def test_hostile_lines_are_reported_each_with_its_number(project, cli, sent) -> None:
    email = MEMBERS[2][0]
    good = json.dumps(bounce(sent[email], email))
    lines = [*HOSTILE_LINES.values(), good]
    path = project / "hostile.jsonl"
    path.write_bytes(
        "\n".join(lines).encode() + b"\n\xff\xfe not utf-8\n" + b"x" * (1024 * 1024 + 10) + b"\n"
    )
    result = cli("events", "ingest", path)
    assert result.code == 1, result.output
    assert "Traceback" not in result.output
    for number in range(1, len(HOSTILE_LINES) + 1):
        assert f"line {number}: " in result.stderr, (number, list(HOSTILE_LINES)[number - 1])
    assert f"line {len(lines) + 1}: not JSON: not UTF-8" in result.stderr
    assert f"line {len(lines) + 2}: longer than 1024 KiB" in result.stderr
    assert f"{len(HOSTILE_LINES) + 2} invalid" in result.stderr
    # The good line among them still counts.
    assert "1 event(s) recorded" in result.stderr
    assert status_of(email) == "bounced"


def test_a_clean_campaign_between_soft_bounces_resets_the_count(project, cli, monkeypatch) -> None:
    """Soft bounces on 26, 27, 29, 30 and 31 with 28 delivered: three in a row only at 31."""
    email = MEMBERS[0][0]
    numbers = (26, 27, 28, 29, 30, 31)
    with SesStub() as stub:
        use_ses(monkeypatch, stub.endpoint_url)
        make_list(cli, "weekly", MEMBERS[:2])
        for number in numbers:
            ok(cli("send", _issue_copy(project, number), "--list", "weekly", "--yes"))
        assert stub.per_recipient()[email] == len(numbers)
    ids = message_ids_by_issue(email)

    def ingest(number: int, event: dict[str, Any]) -> str:
        result = cli("events", "ingest", write_lines(project / f"e{number}.jsonl", [event]))
        assert result.code == 0, result.output
        return result.stderr

    for number in (26, 27):
        ingest(number, bounce(ids[number], email, "Transient"))
    ingest(28, simple("Delivery", ids[28], email))
    for number in (29, 30):  # two soft bounces since the clean one: not three in a row
        assert "-> bounced" not in ingest(number, bounce(ids[number], email, "Undetermined"))
        assert status_of(email) == "active"
    assert f"{email}: active -> bounced" in ingest(31, bounce(ids[31], email, "Transient"))
    assert status_of(email) == "bounced"


def test_poll_as_a_service_stops_cleanly_on_sigterm(project: Path, database_url: str) -> None:
    """`events poll` without --once, in its own process as a service manager runs it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from moto.server import ThreadedMotoServer

    from tests.support.cli import ROOT

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    log = project / "poll.log"
    process = None
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        sqs = boto3.client(
            "sqs",
            region_name="us-east-1",
            endpoint_url=endpoint,
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        queue = sqs.create_queue(QueueName=fresh_queue_name())["QueueUrl"]
        sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(envelope(simple(
            "Delivery", "unknown-id", "someone@example.com"))))  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NEWSLETTER_"))}
        env |= {
            "NEWSLETTER_DATABASE_URL": database_url,
            "NEWSLETTER_SECRET_KEY": "poll-test-secret-key-0123456789",
            "AWS_ENDPOINT_URL_SQS": endpoint,
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "PYTHONPATH": str(ROOT),
        }
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pipeline",
                    "events",
                    "poll",
                    "--queue",
                    queue,
                    "--wait",
                    "1",
                ],
                cwd=project,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while "1 event(s) recorded" not in log.read_text(encoding="utf-8"):
            assert process.poll() is None, log.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")
            time.sleep(0.1)
        # Still polling an empty queue: a service waits for more, it does not stop.
        assert process.poll() is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, log.read_text(encoding="utf-8")
        output = log.read_text(encoding="utf-8")
        assert "Traceback" not in output
        assert output.rstrip().endswith("0 invalid"), output  # the final summary
        left = sqs.get_queue_attributes(
            QueueUrl=queue, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        assert left == "0"
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()
        server.stop()


def _report(cli) -> dict[str, Any]:
    result = cli("report", "25", "--list", "weekly", "--format", "json")
    assert result.code == 0, result.output
    (report,) = json.loads(result.stdout)
    return report


def test_report_flags_ok_then_warning_at_the_thresholds(project, cli, monkeypatch) -> None:
    """400 recipients: 19 hard bounces (4.75%) are ok, the 20th (5%) is SES's warning; one
    complaint (0.25%) is a warning for SES (0.1%) and Gmail (0.1%), short of danger."""
    members = people(400)
    # An account rate of 1000/s: the 400 go out in a second instead of 30 at SES's default.
    with SesStub(account=default_account(max_send_rate=1000)) as stub:
        use_ses(monkeypatch, stub.endpoint_url)
        make_list(cli, "weekly", members)
        ok(send(cli, "--concurrency", "8"))
    sent = {email: row["message_id"] for email, row in deliveries().items()}
    report = _report(cli)
    assert (report["bounce_rate_flag"], report["complaint_rate_flag"]) == ("ok", "ok")
    bounces = [bounce(sent[email], email) for email, _ in members[:20]]
    assert cli("events", "ingest", write_lines(project / "b.jsonl", bounces[:19])).code == 0
    report = _report(cli)
    assert report["bounce_rate"] == pytest.approx(0.0475) and report["bounce_rate_flag"] == "ok"
    assert cli("events", "ingest", write_lines(project / "b20.jsonl", bounces[19:])).code == 0
    report = _report(cli)
    assert report["bounce_rate"] == pytest.approx(0.05)
    assert report["bounce_rate_flag"] == "warning"
    assert report["complaint_rate_flag"] == "ok"
    email = members[30][0]
    assert cli("events", "ingest", write_lines(project / "c.jsonl", [complaint(sent[email], email)])).code == 0  # fmt: skip
    report = _report(cli)
    assert report["complaint_rate"] == pytest.approx(0.0025)
    assert report["complaint_rate_flag"] == "warning"
    table = cli("report", "25").stdout
    assert table.count("WARNING") == 2 and "DANGER" not in table


def test_report_missing_gives_each_reason(project, cli, monkeypatch) -> None:
    members = people(7)
    emails = [email for email, _ in members]
    with SesStub() as stub:
        use_ses(monkeypatch, stub.endpoint_url)
        make_list(cli, "weekly", members)
        stub.reject = {emails[5]: "Address blacklisted."}
        # One message at a time; the last request's answer is lost after SES took it.
        stub.script = ["ok"] * 6 + ["lost"]
        send(cli, "--concurrency", "1")
    rows = deliveries()
    (unknown,) = [email for email, row in rows.items() if row["status"] == "unknown"]
    assert rows[emails[5]]["status"] == "failed"
    sent = [email for email in emails if rows[email]["status"] == "sent"]
    assert len(sent) == 5
    a, b, c, d, e = sent
    events = [
        bounce(rows[a]["message_id"], a, "Permanent"),
        bounce(rows[b]["message_id"], b, "Undetermined"),
        simple("Reject", rows[c]["message_id"], c, reason="Bad content"),
        bounce(rows[d]["message_id"], d, "Transient"),  # delayed, not missing
        simple("Delivery", rows[e]["message_id"], e),
    ]
    assert cli("events", "ingest", write_lines(project / "e.jsonl", events)).code == 0
    result = cli("report", "25", "--list", "weekly", "--missing", "--format", "jsonl")
    assert result.code == 0, result.output
    reasons = {row["email"]: row["reason"] for row in map(json.loads, result.stdout.splitlines())}
    assert reasons.pop(a) == "bounced (Permanent)"
    assert reasons.pop(b) == "bounced (Undetermined)"
    assert reasons.pop(c) == "rejected by SES"
    assert reasons.pop(emails[5]).startswith("failed: ") and "blacklisted" in str(
        rows[emails[5]]["error"]
    )
    assert reasons.pop(unknown).startswith("unknown")
    assert reasons == {}  # the soft-bounced and the delivered got it


@pytest.mark.parametrize(
    "number", ["1000000", "9223372036854775808", "99999999999999999999", "9" * 5_000]
)
@pytest.mark.single_backend  # never opens the store
def test_report_on_an_impossible_issue_number_is_a_clean_error(project, cli, number) -> None:
    result = cli("report", number)
    assert result.code in (1, 2), result.output
    assert "too large" in result.stderr and "999999" in result.stderr
    assert "internal error" not in result.output and len(result.stderr) < 400


def test_ingest_refuses_a_folder_cleanly(project, cli) -> None:
    result = cli("events", "ingest", project)
    assert result.code in (1, 2) and "is a folder" in result.stderr, result.output


HOSTILE_LINKS = [
    "https://example.org/\x1b[2J\x1b[31mred",  # ANSI: clear the screen, colour
    "https://example.org/\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07",  # OSC 8 link
    "https://example.org/\x1b]0;title\x1b\\",  # OSC: set the window title
    "https://example.org/a\rb\nc\x9b31m",  # CR, LF and a C1 CSI
]


@pytest.mark.parametrize("link", HOSTILE_LINKS)
def test_report_shows_control_characters_in_links_escaped(project, cli, sent, link) -> None:
    email = MEMBERS[0][0]
    events = [simple("Click", sent[email], email, link=link)]
    assert cli("events", "ingest", write_lines(project / "e.jsonl", events)).code == 0
    table = ok(cli("report", "25", "--list", "weekly")).stdout
    assert not any(c in table for c in "\x1b\x07\r\x9b"), table
    assert "https://example.org/" in table and ("\\x1b" in table or "\\r" in table)
    (report,) = json.loads(ok(cli("report", "25", "--format", "json")).stdout)
    assert report["top_links"][0]["link"] == link  # the data itself is kept as it came
