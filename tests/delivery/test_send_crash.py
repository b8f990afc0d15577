"""A campaign that is killed, interrupted or loses answers: nobody gets a second copy, the
log stays consistent with what SES accepted, and what is uncertain is said and kept apart.

The send runs as a real process (`python -m pipeline send ...`) against our SES stub in
this process, so the test can kill it mid-campaign and then look at both sides."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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
    make_list,
    ok,
    people,
    received,
    refused,
    send,
    spawn_send,
    use_ses,
    wait_until_sent,
)
from tests.support.ses_stub import SesStub, default_account

CONCURRENCY = 8
MEMBERS = people(200)
EVERYONE = {m[0] for m in MEMBERS}


@pytest.fixture
def stub(project: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SesStub]:
    with SesStub(account=default_account(max_send_rate=10_000)) as running:
        use_ses(monkeypatch, running.endpoint_url)
        yield running


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


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Sends started by a test; killed at the end should a failing test leave one behind."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate()


def slow_send(
    cli: Cli, stub: SesStub, processes: list[subprocess.Popen[str]], concurrency: int = CONCURRENCY
) -> subprocess.Popen[str]:
    make_list(cli, "weekly", MEMBERS)
    stub.delay = 0.05  # slow enough to be caught mid-campaign (about 20 messages/s a worker)
    process = spawn_send("--rate", "1000", "--concurrency", str(concurrency))
    processes.append(process)
    return process


def test_kill_9_mid_campaign_then_resume_sends_nobody_twice(
    cli: Cli, stub: SesStub, processes: list[subprocess.Popen[str]]
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

    # Only on request: the uncertain ones are sent again (some may now have two copies).
    result = ok(send(cli, "--retry-unknown"))
    assert f"sending again: {len(in_flight)} unknown" in result.stderr
    copies = received(stub)
    assert set(copies) == EVERYONE
    assert {email for email, n in copies.items() if n > 1} <= in_flight
    assert by_status(deliveries(), "sent") == EVERYONE


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


def test_a_retry_that_is_not_confirmed_reopens_nothing(cli: Cli, stub: SesStub) -> None:
    members = people(3)
    make_list(cli, "weekly", members)
    stub.script = ["lost"]
    ok(send(cli, "--concurrency", "1"))
    assert by_status(deliveries(), "unknown") == {members[0][0]}

    refused(cli("send", ISSUE, "--list", "weekly", "--retry-unknown"), "not confirmed")
    assert by_status(deliveries(), "unknown") == {members[0][0]}
    refused(send(cli), "nothing to send", "--retry-unknown")
    assert received(stub)[members[0][0]] == 1
