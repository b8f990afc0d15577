"""A campaign that is killed, interrupted or loses answers: nobody gets a second copy, the
log stays consistent with what SES accepted, and what is uncertain is said and kept apart.

The send runs as a real process (`python -m pipeline send ...`) against our SES stub in
this process, so the test can kill it mid-campaign and then look at both sides."""

from __future__ import annotations

import signal
import subprocess
import time
from typing import Any

import pytest

from pipeline.delivery import campaign as campaigns
from pipeline.delivery.send import SendOptions
from pipeline.delivery.transports.ses import SesTransport
from pipeline.issue.build import build
from pipeline.settings import load_settings
from tests.support.sending import (
    ISSUE,
    Cli,
    assert_accounted,
    assert_log_matches_stub,
    by_status,
    campaign,
    counts,
    db_counts,
    deliveries,
    ingest_events,
    make_list,
    ok,
    people,
    received,
    refused,
    send,
    ses_events,
    spawn_send,
    store,
    wait_until_sent,
)
from tests.support.ses_stub import SesStub, default_account

CONCURRENCY = 8
MEMBERS = people(200)
EVERYONE = {m[0] for m in MEMBERS}


@pytest.fixture
def ses_stub_options() -> dict[str, Any]:
    return {"account": default_account(max_send_rate=10_000)}


def settle(stub: SesStub, timeout: float = 10) -> None:
    """Wait until every request the stub received has been decided (accepted or refused):
    a killed client's last requests are still being answered for a moment."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = stub.stats()
        if stats["requests"] == stats["counts"]["send_requests"] + stats["counts"]["get_account"]:
            return
        time.sleep(0.01)
    raise AssertionError("the stub did not settle")


def slow_send(
    cli: Cli, stub: SesStub, processes: list[subprocess.Popen[str]], concurrency: int = CONCURRENCY
) -> subprocess.Popen[str]:
    make_list(cli, "weekly", MEMBERS)
    stub.delay = 0.05  # slow enough to be caught mid-campaign (about 20 messages/s a worker)
    process = spawn_send("--rate", "1000", "--concurrency", str(concurrency))
    processes.append(process)
    return process


def test_kill_9_mid_campaign_then_resume_sends_nobody_twice(
    cli: Cli, stub: SesStub, processes: list[subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    process = slow_send(cli, stub, processes)
    wait_until_sent(process, at_least=40, targeted=200)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    settle(stub)

    crashed = db_counts()
    assert_accounted(crashed, 200)
    assert 40 <= crashed["sent"] < 200
    # Only the rows in flight are uncertain: the loop claims one row per worker.
    assert crashed["sending"] <= CONCURRENCY
    rows = deliveries()
    in_flight = by_status(rows, "sending")
    # What SES took but the dead process never recorded can only be among those in flight.
    assert_log_matches_stub(stub, rows, uncertain=("sending",))

    stub.delay = 0
    result = ok(send(cli))
    assert (
        f"{len(in_flight)} message(s) were in flight when the last run stopped and are now "
        "'unknown' (not resent)" in result.stderr
    )
    assert "--retry-unknown resends them" in result.stderr
    listed = {email for email in in_flight if email in result.stderr}
    assert len(listed) == min(10, len(in_flight))  # named, the first ten of them
    if len(in_flight) > 10:
        assert f"and {len(in_flight) - 10} more" in result.stderr
    assert f"{crashed['sent']} already sent, {crashed['pending']} to go" in result.stderr

    rows = deliveries()
    assert by_status(rows, "unknown") == in_flight
    assert by_status(rows, "sent") == EVERYONE - in_flight
    copies = received(stub)
    assert max(copies.values()) == 1  # nobody received two copies
    assert set(copies) >= EVERYONE - in_flight
    assert_log_matches_stub(stub, rows)
    assert_accounted(counts(), 200)
    found = campaign()
    assert found is not None and found.status == "finished"

    # Only on request, and once SES's events had their time (no events flow here): the
    # uncertain ones are sent again (some may now have two copies).
    refused(send(cli, "--retry-unknown"), f"{len(in_flight)} 'unknown' message(s) are held back")
    monkeypatch.setenv("NEWSLETTER_UNKNOWN_SETTLE_SECONDS", "0")
    result = ok(send(cli, "--retry-unknown"))
    assert f"sending again: {len(in_flight)} unknown" in result.stderr
    copies = received(stub)
    assert set(copies) == EVERYONE
    assert {email for email, n in copies.items() if n > 1} <= in_flight
    assert by_status(deliveries(), "sent") == EVERYONE


def test_kill_9_then_ses_events_settle_the_unknown_and_retry_sends_nobody_twice(
    cli: Cli, stub: SesStub, processes: list[subprocess.Popen[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With events flowing, a crash costs no duplicate: SES's own record (a Send and a
    Delivery event per accepted message, its delivery's id in a tag) settles the rows the
    dead sender never recorded, and --retry-unknown resends only the rest."""
    process = slow_send(cli, stub, processes)
    wait_until_sent(process, at_least=40, targeted=200)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    settle(stub)
    in_flight = by_status(deliveries(), "sending")
    took = {m.recipient_addresses[0] for m in stub.accepted} & in_flight
    assert took, "SES took none of the messages in flight: the kill came too early"
    # Events of what SES took so far arrive while the rows are still `sending`...
    ingest_events(cli, ses_events(list(stub.accepted)))
    before = len(stub.accepted)

    stub.delay = 0
    result = ok(send(cli))
    assert f"{len(took)} message(s) left 'unknown' were settled by SES's own record" in (
        result.stderr
    )
    rows = deliveries()
    assert by_status(rows, "sent") == EVERYONE - (in_flight - took)
    assert all(rows[email]["message_id"] for email in took)
    # ... and the rest's events after the resume: nothing changes for the ones sent.
    ingest_events(cli, ses_events(list(stub.accepted)[before:]), name="later.jsonl")

    monkeypatch.setenv("NEWSLETTER_UNKNOWN_SETTLE_SECONDS", "0")
    result = send(cli, "--retry-unknown")
    if in_flight - took:
        assert f"sending again: {len(in_flight - took)} unknown" in ok(result).stderr
    else:
        refused(result, "nothing to send")
    assert received(stub) == dict.fromkeys(EVERYONE, 1)  # nobody got two copies
    assert by_status(deliveries(), "sent") == EVERYONE
    assert_log_matches_stub(stub, deliveries())


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_pauses_cleanly_and_resume_finishes(
    cli: Cli, stub: SesStub, processes: list[subprocess.Popen[str]], stop: signal.Signals
) -> None:
    process = slow_send(cli, stub, processes, concurrency=4)  # leaves time for the second `send`
    wait_until_sent(process, at_least=20, targeted=200)
    process.send_signal(stop)
    _, stderr = process.communicate(timeout=30)
    settle(stub)

    assert process.returncode == 3, stderr
    assert "Traceback" not in stderr
    assert "paused: stopped by you" in stderr
    assert f"resume with: newsletter send {ISSUE} --list weekly" in stderr
    stopped = db_counts()
    assert stopped["sending"] == 0 and stopped["unknown"] == 0  # in-flight ones were recorded
    assert 20 <= stopped["sent"] < 200
    found = campaign()
    assert found is not None and found.status == "paused"
    assert found.pause_reason == "stopped by the user"
    assert_log_matches_stub(stub, deliveries())

    stub.delay = 0
    result = ok(send(cli))
    assert "resuming the paused campaign" in result.stderr
    assert "campaign finished: 200 sent" in result.stderr
    assert received(stub) == dict.fromkeys(EVERYONE, 1)
    assert_log_matches_stub(stub, deliveries())


@pytest.mark.parametrize("outcome", ["lost", "drop"])
def test_an_answer_lost_on_the_way_back_is_unknown_and_never_resent_silently(
    cli: Cli, stub: SesStub, outcome: str
) -> None:
    """`lost`: SES took the message and the connection closed before the answer; `drop`:
    it did not. The client cannot tell the two apart, so both are `unknown`."""
    members = people(3)
    make_list(cli, "weekly", members)
    stub.script = [outcome]
    result = ok(send(cli, "--concurrency", "1"))
    assert "campaign finished: 2 sent, 1 unknown" in result.stderr
    rows = deliveries()
    assert by_status(rows, "unknown") == {members[0][0]}
    assert "ConnectionClosedError" in rows[members[0][0]]["error"]
    assert_log_matches_stub(stub, rows)
    expected = {m[0]: 1 for m in members[1:]}
    if outcome == "lost":
        expected[members[0][0]] = 1
    assert received(stub) == expected

    refused(send(cli), "nothing to send", "--retry-unknown")
    assert received(stub) == expected  # not resent behind the user's back


def test_a_retry_that_is_not_confirmed_reopens_nothing(
    cli: Cli, stub: SesStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_UNKNOWN_SETTLE_SECONDS", "0")  # no events flow here
    members = people(3)
    make_list(cli, "weekly", members)
    stub.script = ["lost"]
    ok(send(cli, "--concurrency", "1"))
    assert by_status(deliveries(), "unknown") == {members[0][0]}

    refused(cli("send", ISSUE, "--list", "weekly", "--retry-unknown"), "not confirmed")
    assert by_status(deliveries(), "unknown") == {members[0][0]}
    refused(send(cli), "nothing to send", "--retry-unknown")
    assert received(stub)[members[0][0]] == 1


def test_a_second_ctrl_c_leaves_at_once_and_the_rows_in_flight_become_unknown(
    cli: Cli, stub: SesStub, processes: list[subprocess.Popen[str]]
) -> None:
    process = slow_send(cli, stub, processes, concurrency=4)
    wait_until_sent(process, at_least=20, targeted=200)
    # From now on every request hangs: the first Ctrl-C, which waits for what is in
    # flight, cannot end the run; only the second one can.
    stub.delay = 5
    before = stub.stats()["requests"]
    deadline = time.monotonic() + 10
    while stub.stats()["requests"] == before:
        assert time.monotonic() < deadline, "no request arrived"
        time.sleep(0.01)
    # Ctrl-C until it leaves: signals sent too close together may merge into one, so send
    # another each time the run goes on (it can only leave by the second one: see above).
    for _ in range(20):
        process.send_signal(signal.SIGINT)
        try:
            _, stderr = process.communicate(timeout=1)
            break
        except subprocess.TimeoutExpired:
            continue
    else:
        raise AssertionError("a second Ctrl-C did not stop the send")

    assert process.returncode == 130, stderr
    assert "interrupted: stopped without waiting" in stderr and "Traceback" not in stderr
    assert f"Resume with: newsletter send {ISSUE} --list weekly" in stderr
    left = db_counts()
    assert_accounted(left, 200)
    assert 1 <= left["sending"] <= 4  # only what was in flight is uncertain
    in_flight = by_status(deliveries(), "sending")

    stub.delay = 0
    result = ok(send(cli))
    assert f"{len(in_flight)} message(s) were in flight when the last run stopped" in (
        result.stderr
    )
    rows = deliveries()
    assert by_status(rows, "unknown") == in_flight
    assert by_status(rows, "sent") == EVERYONE - in_flight
    settle(stub)  # the hanging requests are answered (to nobody) and recorded
    assert max(received(stub).values()) == 1  # nobody got two copies
    assert_log_matches_stub(stub, rows)


def test_a_read_timeout_makes_the_row_unknown_and_it_is_never_resent_silently(
    cli: Cli, stub: SesStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request went out and no answer came back in time: SES may have sent it."""
    members = people(2)
    make_list(cli, "weekly", members)
    stub.delay = 5  # the answer comes long after the client stops waiting for it
    settings = load_settings()
    built = build(ISSUE, settings)
    transport = SesTransport(read_timeout=0.5)
    with store() as db:
        the_plan = campaigns.plan(db, built, "weekly", transport, rate=1000)
        options = SendOptions(rate=the_plan.rate, concurrency=2)
        report = campaigns.run(db, settings, the_plan, transport, options)

    assert report.campaign.status == "finished"
    assert report.counts["unknown"] == 2 and report.counts["sent"] == 0
    rows = deliveries()
    assert all("ReadTimeoutError" in row["error"] for row in rows.values()), rows
    assert all(row["attempts"] == 1 for row in rows.values())  # never retried blindly
    settle(stub)
    assert received(stub) == {m[0]: 1 for m in members}  # SES did take them, late

    stub.delay = 0
    refused(send(cli), "nothing to send", "--retry-unknown")
    assert received(stub) == {m[0]: 1 for m in members}
    monkeypatch.setenv("NEWSLETTER_UNKNOWN_SETTLE_SECONDS", "0")  # no events flow here
    ok(send(cli, "--retry-unknown"))  # only when asked
    assert received(stub) == {m[0]: 2 for m in members}
    assert by_status(deliveries(), "sent") == {m[0] for m in members}
