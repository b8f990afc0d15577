"""Several schedulers on one database, racing for the same due schedule: exactly one
starts the campaign, and every reader gets one copy (PostgreSQL and SQLite alike)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from pipeline.delivery.scheduler import Tick
from tests.support import db
from tests.support.scheduling import Clock, at, issue_copy, only, scheduler, tomorrow
from tests.support.sending import Cli, make_list, ok, people, received, store
from tests.support.ses_stub import SesStub

READERS = people(40)
SCHEDULERS = 4


@pytest.mark.parametrize("round_", range(3))
def test_racing_schedulers_start_the_campaign_once(
    cli: Cli, project: Path, stub: SesStub, round_: int
) -> None:
    make_list(cli, "weekly", READERS)
    issue = issue_copy(project)
    when = tomorrow()
    ok(cli("schedule", issue, "--list", "weekly", "--at", at(when), "--tz", "UTC"))
    clock = Clock(when)
    stores = [store() for _ in range(SCHEDULERS)]
    schedulers = [scheduler(s, clock) for s in stores]
    ready = threading.Barrier(SCHEDULERS)
    ticks: list[Tick] = []
    errors: list[BaseException] = []

    def race(index: int) -> None:
        ready.wait()
        try:
            ticks.append(schedulers[index].tick())
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(SCHEDULERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for opened in stores:
        opened.close()
    assert errors == []
    assert sorted(len(t.started) for t in ticks) == [0] * (SCHEDULERS - 1) + [1]
    assert received(stub) == {email: 1 for email, _ in READERS}
    assert len(stub.accepted) == len(READERS)
    assert db.one("SELECT count(*) FROM campaigns WHERE dry_run = ?", False) == 1
    sent = db.rows("SELECT status, count(*) FROM deliveries GROUP BY status")
    assert [tuple(r) for r in sent] == [("sent", len(READERS))]
    assert only(cli)["state"] == "sent"
