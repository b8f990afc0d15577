"""The signup library: the per-IP window, what the processor does for each kind of
address, how unconfirmed people are counted, and confirmations that race."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pipeline.audience import confirmation, ratelimits, signup
from pipeline.audience.queries import count_recipients, recipients
from pipeline.audience.subscribers import add, list_summaries
from pipeline.audience.tokens import make_confirm_token
from pipeline.db import Store
from pipeline.settings import Settings, load_settings
from tests.support import db
from tests.support.cli import TEST_SECRET
from tests.support.sending import ok

READER = "reader@example.com"
SECRET = TEST_SECRET.encode()
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(project: Path, cli, store: Store) -> Store:
    ok(cli("lists", "create", "weekly", "--public"))
    ok(cli("lists", "create", "announcements", "--public"))
    return store


def _receive(store: Store, settings: Settings, email: str, *lists: str, now: datetime) -> None:
    fields = {"email": [email], "list": list(lists) or ["weekly"]}
    client = signup.Client("198.51.100.7", "agent")
    assert signup.receive(store, settings, fields, client, now=now) is signup.Received.accepted


def test_the_ip_window_is_fixed_and_restarts(store: Store) -> None:
    def hit(key: str, at: datetime) -> bool:
        with store.begin() as tx:
            return ratelimits.hit(tx.conn, key, limit=2, window=60, now=at)

    assert [hit("a", T0), hit("a", T0 + timedelta(seconds=10)), hit("a", T0)] == [
        True,
        True,
        False,
    ]
    assert hit("b", T0), "each key counts alone"
    assert not hit("a", T0 + timedelta(seconds=59))
    assert hit("a", T0 + timedelta(seconds=61)), "a new window starts afresh"
    assert db.one("SELECT hits FROM rate_limits WHERE key = 'a'") == 1


def test_concurrent_hits_are_all_counted(store: Store) -> None:
    results: list[bool] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(5):
            with store.begin() as tx:
                allowed = ratelimits.hit(tx.conn, "shared", limit=12, window=3600, now=T0)
            with lock:
                results.append(allowed)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 12 and db.one("SELECT hits FROM rate_limits") == 20


def test_unconfirmed_people_are_counted_apart_and_never_receive(store: Store) -> None:
    settings = load_settings()
    add(store, "member@example.com", "weekly")
    _receive(store, settings, READER, now=datetime.now(UTC))
    signup.process(store, settings)
    (weekly,) = [s for s in list_summaries(store) if s["name"] == "weekly"]
    assert (weekly["subscribed"], weekly["unconfirmed"], weekly["total"]) == (1, 1, 2)
    assert weekly["public"] is True
    assert [m.email for m in recipients(store, "weekly")] == ["member@example.com"]
    assert count_recipients(store, "weekly") == 1
    # The publisher adding them by hand is their confirmation (with its own consent record).
    assert "was unconfirmed" in add(store, READER, "weekly").message
    assert [m.email for m in recipients(store, "weekly")] == ["member@example.com", READER]
    methods = db.rows("SELECT method, confirmed_at IS NOT NULL FROM consents ORDER BY id")
    assert [tuple(r) for r in methods][-2:] == [("form", False), ("command", True)]


def test_a_signup_older_than_the_link_expires_with_it(store: Store) -> None:
    settings = load_settings()
    _receive(store, settings, READER, now=T0)
    signup.process(store, settings, now=T0)
    subscriber_id = db.one("SELECT id FROM subscribers")
    late = T0 + timedelta(days=8)
    token = make_confirm_token(SECRET, subscriber_id, late)  # even with a fresh link
    done = confirmation.confirm(store, settings, SECRET, token, now=late)
    assert done.lists == []
    assert db.one("SELECT status FROM memberships") == "unconfirmed"


def test_two_confirmations_at_once_queue_one_welcome(store: Store, tmp_path: Path) -> None:
    settings = load_settings(welcome=str(tmp_path / "welcome.md"))
    _receive(store, settings, READER, "weekly", "announcements", now=datetime.now(UTC))
    signup.process(store, settings)
    token = make_confirm_token(SECRET, db.one("SELECT id FROM subscribers"), datetime.now(UTC))
    results: list[confirmation.Confirmed] = []
    barrier = threading.Barrier(2)

    def confirm() -> None:
        barrier.wait()
        results.append(confirmation.confirm(store, settings, SECRET, token))

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(len(r.lists) for r in results) == [0, 2]
    assert db.one("SELECT count(*) FROM outbox WHERE kind = 'welcome'") == 1
    assert db.one("SELECT count(*) FROM memberships WHERE status = 'subscribed'") == 2


def test_a_list_made_private_after_the_signup_is_not_joined(store: Store, cli) -> None:
    settings = load_settings()
    _receive(store, settings, READER, "weekly", now=datetime.now(UTC))
    ok(cli("lists", "update", "weekly", "--private"))
    assert signup.process(store, settings).outcomes == ["no public list left"]
    assert db.one("SELECT count(*) FROM memberships") == 0


def test_old_handled_requests_and_spent_counters_are_deleted(store: Store) -> None:
    settings = load_settings()
    _receive(store, settings, READER, now=T0)
    _receive(store, settings, "later@example.com", now=T0 + timedelta(days=40))
    signup.process(store, settings, now=T0)  # handles both, stamped T0
    db.execute("UPDATE signup_requests SET handled_at = ? WHERE email = ?", T0 + timedelta(days=40),
               "later@example.com")  # fmt: skip
    assert signup.tidy(store, settings, now=T0 + timedelta(days=41)) == 1
    assert [r[0] for r in db.rows("SELECT email FROM signup_requests")] == ["later@example.com"]
    assert db.one("SELECT count(*) FROM rate_limits") == 0
    assert db.one("SELECT count(*) FROM consents") == 2, "the proof of consent stays"


def test_the_limit_counts_an_ipv6_subscriber_line_as_one(store: Store) -> None:
    assert signup.limit_key("2001:db8:1:2::1") == signup.limit_key("2001:db8:1:2:ffff::9")
    assert signup.limit_key("2001:db8:1:2::1") != signup.limit_key("2001:db8:1:3::1")
    assert signup.limit_key("::ffff:192.0.2.1") == signup.limit_key("192.0.2.1") == "192.0.2.1"
    settings = load_settings(signup_ip_limit=2)
    fields = {"email": [READER], "list": ["weekly"]}
    answers = [
        signup.receive(store, settings, fields, signup.Client(f"2001:db8:1:2::{n}"), now=T0)
        for n in range(3)
    ]
    assert answers[-1] is signup.Received.limited
