"""Several `send` processes on one campaign: each row is sent once, a second `send` joins
rather than fails, a dead sender's rows become `unknown` while the others carry on, and
the campaign is settled only when the last sender is done. On SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.delivery import senders
from pipeline.delivery.sendlog import SendLog
from tests.support import db
from tests.support.sending import (
    Cli,
    assert_accounted,
    assert_log_matches_stub,
    campaign,
    db_counts,
    deliveries,
    make_list,
    people,
    received,
    spawn_send,
    store,
    wait_until_sent,
)
from tests.support.ses_stub import SesStub, default_account

MEMBERS = people(200)
EVERYONE = {m[0] for m in MEMBERS}


# SES answers slowly until both senders have claimed rows, so that neither can finish
# alone; then quickly, so that the rest of the campaign takes a second, not ten.
SLOW, QUICK = 0.1, 0.005


@pytest.fixture
def ses_stub_options() -> dict[str, Any]:
    return {"account": default_account(max_send_rate=10_000), "delay": SLOW}


def start(processes: list[subprocess.Popen[str]], *args: str) -> subprocess.Popen[str]:
    process = spawn_send("--rate", "1000", "--concurrency", "2", *args)
    processes.append(process)
    return process


RUNNING = "SELECT COUNT(*) FROM senders WHERE state = 'running'"
CLAIMING = "SELECT COUNT(DISTINCT sender_id) FROM deliveries WHERE sender_id IS NOT NULL"


def wait_for_senders(n: int, timeout: float = 30, query: str = RUNNING) -> None:
    """Until `n` senders are running (or, with CLAIMING, have claimed rows)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if db.one(query) >= n:
                return
        except Exception:  # the tables are not there yet
            pass
        time.sleep(0.02)
    raise AssertionError(f"fewer than {n} senders: {query}")


def test_two_senders_share_a_campaign_and_nobody_gets_two_copies(
    cli: Cli, stub: SesStub, processes: list[subprocess.Popen[str]]
) -> None:
    make_list(cli, "weekly", MEMBERS)
    first = start(processes)
    wait_until_sent(first, at_least=10, targeted=200)
    second = start(processes)  # the same campaign: it joins
    wait_for_senders(2)
    wait_for_senders(2, query=CLAIMING)
    stub.delay = QUICK
    shown = cli("log")
    assert shown.code == 0, shown.output
    assert "Senders" in shown.stdout
    assert str(first.pid) in shown.stdout and str(second.pid) in shown.stdout
    outputs = [p.communicate(timeout=120) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outputs
    first_err, second_err = outputs[0][1], outputs[1][1]
    assert "joining the sender(s) at work on this campaign" in second_err
    assert "another sender joined this campaign" in first_err
    assert "Traceback" not in first_err + second_err

    assert received(stub) == dict.fromkeys(EVERYONE, 1)
    assert_log_matches_stub(stub, deliveries())
    assert db_counts()["sent"] == 200
    found = campaign()
    assert found is not None and found.status == "finished"
    lease_rows = senders.of_campaign(store(), found.id)
    assert [s.state for s in lease_rows] == ["finished", "finished"]
    assert all(s.sent > 0 for s in lease_rows), lease_rows  # both did part of the work
    assert sum(s.sent for s in lease_rows) == 200


def test_a_sender_killed_mid_campaign_leaves_only_its_rows_unknown(
    cli: Cli, stub: SesStub, processes: list[subprocess.Popen[str]], monkeypatch
) -> None:
    # The survivor takes the silent sender for dead after 3 s instead of the default 10.
    monkeypatch.setenv("NEWSLETTER_SENDER_LEASE_SECONDS", "3")
    make_list(cli, "weekly", MEMBERS)
    doomed = start(processes)
    wait_until_sent(doomed, at_least=10, targeted=200)
    survivor = start(processes)
    wait_for_senders(2, query=CLAIMING)
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate()
    stub.delay = QUICK
    _, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err
    assert "stopped answering" in err

    final = db_counts()
    assert_accounted(final, 200)
    assert final["sending"] == 0 and final["pending"] == 0
    assert final["unknown"] <= 2  # at most the killed sender's in-flight rows
    got = received(stub)
    assert all(n == 1 for n in got.values())  # nobody twice
    rows = deliveries()
    assert {e for e, r in rows.items() if r["status"] == "sent"} <= set(got)
    found = campaign()
    assert found is not None and found.status == "finished"
    assert [s.state for s in senders.of_campaign(store(), found.id)].count("lost") == 1


def test_a_sender_on_a_lost_machine_is_noticed_when_its_lease_expires(
    cli: Cli, project: Path
) -> None:
    """No process to look at on another machine: only the lease's age tells."""
    make_list(cli, "weekly", people(3))
    log = SendLog(store())
    mailing_list = log.list_of("weekly")
    started, _ = log.start(25, mailing_list, "subject", dry_run=False)
    lease = senders.Lease(store(), started.id)
    claimed, _ = log.checkpoint(started.id, mailing_list.id, [], 2, lease.id)
    assert len(claimed) == 2
    db.execute("UPDATE senders SET host = 'elsewhere.example' WHERE id = ?", lease.id)

    assert log.recover(started.id) == []  # its lease is fresh: the rows are its own
    assert log.counts(started.id)["sending"] == 2
    old = datetime.now(UTC) - timedelta(seconds=senders.LEASE_SECONDS + 1)
    db.execute(
        "UPDATE senders SET heartbeat_at = ? WHERE id = ?",
        old.replace(tzinfo=None) if db.engine().dialect.name == "sqlite" else old,
        lease.id,
    )
    assert sorted(log.recover(started.id)) == sorted(c.email for c in claimed)
    counts = log.counts(started.id)
    assert counts["sending"] == 0 and counts["unknown"] == 2 and counts["pending"] == 1
    assert db.one("SELECT state FROM senders WHERE id = ?", lease.id) == "lost"
    error = db.one("SELECT error FROM deliveries WHERE status = 'unknown' LIMIT 1")
    assert "elsewhere.example" in error


def test_the_account_rate_is_divided_among_the_running_senders(cli: Cli, project: Path) -> None:
    make_list(cli, "weekly", people(2))
    log = SendLog(store())
    mailing_list = log.list_of("weekly")
    started, _ = log.start(25, mailing_list, "subject", dry_run=False)
    one = senders.Lease(store(), started.id)
    assert one.beat(sent=0, rate=40.0)[0] == 1
    two = senders.Lease(store(), started.id)
    sharing, joined, lost = one.beat(sent=5, rate=40.0)
    assert sharing == 2 and [s.id for s in joined] == [two.id] and lost == []
    rehearsal, _ = log.start(25, mailing_list, "subject", dry_run=True)
    senders.Lease(store(), rehearsal.id)  # a dry run's sender takes nothing from SES
    assert one.beat(sent=7, rate=20.0)[0] == 2
    two.finish(sent=0)
    assert one.beat(sent=9, rate=20.0)[0] == 1
    assert one.others_running() == 0


@pytest.mark.parametrize("senders_running", [1, 2, 3, 5])
def test_the_shares_of_the_account_leave_room_for_clocks_out_of_step(
    senders_running: int,
) -> None:
    from pipeline.delivery.campaign import shared_rate

    share = shared_rate(100.0, senders_running)
    # In any one second each sender may send one more than its rate: still under 100.
    assert senders_running * (share + 1) <= 100.0
    assert senders_running * share >= 90.0  # and together they still use >= 0.9 R
