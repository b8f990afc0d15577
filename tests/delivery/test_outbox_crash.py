"""The outbox when its sender is killed (kill -9) mid-pass, and what a person does about
the messages whose fate is unknown: nothing the sender never reached is lost, only what
was in flight is uncertain, `--retry-unknown` resends that on request, and a reader whose
confirmation is unknown may ask for a new one at once.

The sender runs as a real process (`python -m pipeline signups send`) against our SES stub
in this process, so the test can kill it and then look at both sides."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.audience import signup
from pipeline.db import Store
from pipeline.delivery import outbox
from pipeline.delivery.pacing import Pace
from pipeline.delivery.transports.ses import SesTransport
from pipeline.settings import Settings, load_settings
from tests.support import db
from tests.support.cli import ROOT
from tests.support.sending import ok
from tests.support.ses_stub import SesStub

READERS = [f"reader{n:02d}@example.com" for n in range(20)]


@pytest.fixture
def store(project: Path, cli, store: Store) -> Store:
    ok(cli("lists", "create", "weekly", "--public"))
    return store


def _sign_up(store: Store, settings: Settings, *emails: str) -> None:
    for n, email in enumerate(emails):
        fields = {"email": [email], "list": ["weekly"]}
        client = signup.Client(f"192.0.2.{n + 1}", "test")  # one each: under the IP limit
        assert signup.receive(store, settings, fields, client) is signup.Received.accepted


def _statuses() -> dict[str, str]:
    return {email: status for email, status in db.rows("SELECT email, status FROM outbox")}


def _settle(stub: SesStub, timeout: float = 10) -> None:
    """Wait until every request the stub received is decided (a killed client's last one
    is still being answered for a moment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = stub.stats()
        if stats["requests"] == stats["counts"]["send_requests"] + stats["counts"]["get_account"]:
            return
        time.sleep(0.01)
    raise AssertionError("the stub did not settle")


def _spawn_signups_send(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "pipeline", "signups", "send", *args]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def test_kill_9_mid_pass_loses_no_confirmation(
    store: Store, cli, stub: SesStub, processes: list[subprocess.Popen[str]]
) -> None:
    settings = load_settings()
    _sign_up(store, settings, *READERS)
    signup.process(store, settings)
    assert set(_statuses().values()) == {"pending"}
    stub.delay = 0.05  # each request takes a while: the sender is caught mid-send
    process = _spawn_signups_send("--rate", "10")
    processes.append(process)
    deadline = time.monotonic() + 30
    while list(_statuses().values()).count("sent") < 3:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the sender sent nothing"
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    _settle(stub)

    crashed = _statuses()
    in_flight = {email for email, status in crashed.items() if status == "sending"}
    sent = {email for email, status in crashed.items() if status == "sent"}
    assert len(in_flight) <= 1, "the sender held only the row it was sending"
    assert set(crashed.values()) <= {"sent", "sending", "pending"}
    assert sent < set(READERS)
    # What SES accepted is what the log says was sent, or the one row in flight.
    assert set(stub.per_recipient()) - sent <= in_flight

    # A restart sends every row the dead sender never reached.
    stub.delay = 0
    again = ok(cli("signups", "send", "--rate", "1000"))
    after = _statuses()
    assert {e for e, s in after.items() if s == "sent"} == set(READERS) - in_flight
    if in_flight:
        assert "1 message(s) are in flight with another sender" in again.stderr
        # Five minutes on, the row in flight is the dead sender's: its fate is unknown.
        later = datetime.now(UTC) + outbox.STALE + timedelta(minutes=1)
        assert outbox.settle_stale(store, now=later) == 1
        (email,) = in_flight
        assert _statuses()[email] == "unknown"
        told = ok(cli("signups", "send", "--rate", "1000"))
        assert "1 message(s) are 'unknown'" in told.stderr and "--retry-unknown" in told.stderr
        retried = ok(cli("signups", "send", "--rate", "1000", "--retry-unknown"))
        assert f"sending again: 1 unknown (1 confirmation(s), 0 welcome(s)): {email}" in (
            retried.stderr
        )
    copies = stub.per_recipient()
    assert set(copies) == set(READERS), "every reader got their confirmation"
    assert {email for email, n in copies.items() if n > 1} <= in_flight
    assert set(_statuses().values()) == {"sent"}


def _once(store: Store, settings: Settings) -> outbox.Sent:
    return outbox.run_once(store, settings, SesTransport(), pace=Pace(1000))


@pytest.mark.parametrize("fate", ["lost", "reject"])
def test_a_confirmation_that_never_surely_arrived_does_not_block_a_new_one(
    store: Store, stub: SesStub, fate: str
) -> None:
    """`lost`: SES took it and the answer was lost (unknown); `reject`: SES refused it
    (failed). Either way the reader may not have it, and signing up again sends one."""
    settings = load_settings()
    reader = READERS[0]
    _sign_up(store, settings, reader)
    stub.script = [fate]
    first = _once(store, settings)
    assert (first.unknown, first.failed) == ((1, 0) if fate == "lost" else (0, 1))
    stub.script = []
    _sign_up(store, settings, reader)
    second = _once(store, settings)
    assert second.processed.outcomes == ["confirmation queued"]
    assert second.sent == 1
    # The new one stands for the period again.
    _sign_up(store, settings, reader)
    third = _once(store, settings)
    assert third.processed.outcomes == ["confirmation sent within the period: no mail"]


def test_retry_unknown_leaves_a_confirmation_a_later_one_replaced(
    store: Store, cli, stub: SesStub
) -> None:
    settings = load_settings()
    replaced, alone = READERS[:2]
    _sign_up(store, settings, replaced, alone)
    stub.script = ["lost", "lost"]
    assert _once(store, settings).unknown == 2
    _sign_up(store, settings, replaced)  # gets a new one at once
    assert _once(store, settings).sent == 1
    result = ok(cli("signups", "send", "--rate", "1000", "--retry-unknown"))
    assert f"sending again: 1 unknown (1 confirmation(s), 0 welcome(s)): {alone}" in result.stderr
    assert (
        "not sent again: 1 unknown that a later message to the same reader replaced: " + (replaced)
        in result.stderr
    )
    # lost ones reached SES too: two copies each, and no third.
    assert stub.per_recipient() == {replaced: 2, alone: 2}
    statuses = db.rows("SELECT email, status FROM outbox ORDER BY id")
    assert [tuple(r) for r in statuses] == [
        (replaced, "unknown"),
        (alone, "sent"),
        (replaced, "sent"),
    ]
