"""`schedule cancel` racing the scheduler's claim of the same schedule: the claim is
held open on a second connection while the cancel reads and then writes, so the cancel
reads `scheduled` and writes after the claim commits. It must not overwrite the claim,
and must not say "nothing was sent" of a campaign that is going out (both backends)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import sqlalchemy as sa

from tests.support import db
from tests.support.cli import Result
from tests.support.scheduling import at, issue_copy, only, tomorrow
from tests.support.sending import Cli, make_list, ok, people

PATIENCE = 30.0
CLAIMED_BY = "started by scheduler elsewhere:4242"


def _waiting_on_a_lock(url: str) -> bool:
    """PostgreSQL: another session waits for a row lock (the cancel's UPDATE)."""
    if not url.startswith("postgresql"):
        return True  # SQLite: the cancel waits for the one writer; nothing to see
    waiting = db.one("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
    return bool(waiting)


def test_a_cancel_that_loses_to_a_claim_says_so(cli: Cli, project: Path, database_url: str) -> None:
    make_list(cli, "weekly", people(3))
    issue = issue_copy(project)
    ok(cli("schedule", issue, "--list", "weekly", "--at", at(tomorrow()), "--tz", "UTC"))
    results: list[Result] = []
    with db.engine().connect() as claimant:
        claimant.begin()
        claimant.execute(
            sa.text("UPDATE schedules SET state = 'running', note = :note"),
            {"note": CLAIMED_BY},
        )
        cancel = threading.Thread(
            target=lambda: results.append(cli("schedule", "cancel", "25", "--list", "weekly"))
        )
        cancel.start()
        deadline = time.monotonic() + PATIENCE
        while not _waiting_on_a_lock(database_url):
            assert time.monotonic() < deadline and cancel.is_alive()
            time.sleep(0.02)
        cancel.join(timeout=0.2)
        assert cancel.is_alive()  # it cannot finish while the claim holds the row
        claimant.commit()
    cancel.join(timeout=PATIENCE)
    (result,) = results
    assert result.code != 0, result.output
    assert "nothing was sent" not in result.output
    assert "running now" in result.stderr and "scheduler elsewhere" in result.stderr
    assert "nothing was cancelled" in result.stderr
    assert "Traceback" not in result.output
    entry = only(cli)
    assert entry["state"] == "running" and entry["note"] is not None
    assert CLAIMED_BY in entry["note"]
