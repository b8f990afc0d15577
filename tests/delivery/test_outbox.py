"""The outbox against the fault-injecting SES stub: transactional mail is retried, failed
or left `unknown` exactly like a campaign's delivery, never sent twice; and the background
loop (`work`) handles signups and sends until it is stopped."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.audience import signup
from pipeline.db import Store
from pipeline.delivery import outbox
from pipeline.delivery.pacing import Pace
from pipeline.delivery.transports.ses import SesTransport
from pipeline.retry import RetryPolicy
from pipeline.settings import Settings, load_settings
from tests.support import db
from tests.support import signup as signup_support
from tests.support.sending import ok
from tests.support.ses_stub import SesStub

READER = "reader@example.com"


ses_stub_options = signup_support.ses_stub_options


@pytest.fixture
def store(project: Path, cli, store: Store) -> Store:
    ok(cli("lists", "create", "weekly", "--public"))
    return store


def _sign_up(store: Store, settings: Settings, email: str = READER) -> None:
    fields = {"email": [email], "list": ["weekly"]}
    assert signup.receive(store, settings, fields, signup.Client("192.0.2.1", "test")) == (
        signup.Received.accepted
    )


def _once(store: Store, settings: Settings) -> outbox.Sent:
    return outbox.run_once(store, settings, SesTransport(), pace=Pace(1000))


def _row() -> tuple[str, str | None, int]:
    (row,) = db.rows("SELECT status, error, attempts FROM outbox")
    return row[0], row[1], row[2]


def test_throttled_mail_is_retried_until_sent(store: Store, stub: SesStub) -> None:
    settings = load_settings()
    _sign_up(store, settings)
    stub.script = ["throttle", "throttle", "ok"]
    done = _once(store, settings)
    assert done.sent == 1 and len(stub.accepted_to(READER)) == 1
    status, error, attempts = _row()
    assert (status, error, attempts) == ("sent", None, 3)
    assert db.one("SELECT message_id FROM outbox") == stub.accepted[0].message_id


def test_throttling_that_never_ends_gives_up_and_keeps_the_mail_for_later(
    store: Store, stub: SesStub, caplog: pytest.LogCaptureFixture
) -> None:
    """As a campaign pauses: the pass stops with the reason, the message stays pending
    (never dropped), and the next pass sends it. A short policy instead of ten minutes."""
    settings = load_settings()
    _sign_up(store, settings)
    stub.throttle_first = 10**9
    short = RetryPolicy(give_up_after=0.2)
    done = outbox.run_once(store, settings, SesTransport(), pace=Pace(1000), retry=short)
    assert done.stopped == "SES kept throttling for 0 s"
    assert (done.sent, done.failed, done.unknown) == (0, 0, 0)
    status, error, attempts = _row()
    assert status == "pending" and "TooManyRequests" in (error or "") and attempts > 1
    assert stub.accepted == []
    assert "sending stops: SES kept throttling" in caplog.text
    stub.throttle_first = 0
    assert _once(store, settings).sent == 1
    assert _row()[0] == "sent" and len(stub.accepted_to(READER)) == 1


def test_a_lost_answer_is_unknown_and_never_resent(store: Store, stub: SesStub) -> None:
    settings = load_settings()
    _sign_up(store, settings)
    stub.script = ["lost"]
    assert _once(store, settings).unknown == 1
    assert _row()[0] == "unknown"
    _once(store, settings)
    assert len(stub.accepted_to(READER)) == 1, "SES took it once; nobody sends it again"


def test_a_rejected_address_fails_alone(store: Store, stub: SesStub) -> None:
    settings = load_settings()
    _sign_up(store, settings, "rejected@example.com")
    _sign_up(store, settings)
    stub.reject = ["rejected@example.com"]
    done = _once(store, settings)
    assert (done.sent, done.failed) == (1, 1)
    rows = dict(db.rows("SELECT email, status FROM outbox"))
    assert rows == {"rejected@example.com": "failed", READER: "sent"}
    assert "MessageRejected" in db.one("SELECT error FROM outbox WHERE status = 'failed'")


def test_a_paused_account_keeps_the_mail_for_later(store: Store, stub: SesStub) -> None:
    settings = load_settings()
    _sign_up(store, settings)
    stub.paused = True
    done = _once(store, settings)
    assert done.stopped and "SendingPaused" in done.stopped
    assert _row()[0] == "pending" and stub.accepted == []
    stub.paused = False
    assert _once(store, settings).sent == 1
    assert _row()[0] == "sent"


def test_mail_left_in_flight_by_a_dead_sender_becomes_unknown(store: Store, stub: SesStub) -> None:
    settings = load_settings()
    _sign_up(store, settings)
    signup.process(store, settings)
    long_ago = datetime.now(UTC) - timedelta(minutes=10)
    db.execute("UPDATE outbox SET status = 'sending', claimed_at = ?", long_ago)
    _once(store, settings)
    status, error, _ = _row()
    assert status == "unknown" and "stopped" in error
    assert stub.accepted == []


def test_no_confirmation_for_someone_who_bounced_meanwhile(store: Store, stub: SesStub) -> None:
    settings = load_settings()
    _sign_up(store, settings)
    signup.process(store, settings)
    db.execute("UPDATE subscribers SET status = 'bounced'")
    _once(store, settings)
    assert stub.accepted == [] and _row()[0] == "failed"


def test_the_background_loop_sends_until_stopped(store: Store, stub: SesStub) -> None:
    settings = load_settings()
    stop = threading.Event()
    loop = threading.Thread(
        target=outbox.work, args=(store, settings, SesTransport(), stop), kwargs={"poll": 0.05}
    )
    loop.start()
    try:
        _sign_up(store, settings)
        deadline = time.monotonic() + 30  # a safety net, not what the test measures
        while not stub.accepted_to(READER) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(stub.accepted_to(READER)) == 1
    finally:
        stop.set()
        loop.join(timeout=10)
    assert not loop.is_alive(), "the loop ends when told to"
    assert _row()[0] == "sent"
