"""A worker killed with SIGKILL mid-campaign: its schedule does not sit `running` in
silence. `schedule list` and `log` say its sender is gone, and the next scheduler pass
takes the campaign over, as it does one paused by a shutdown: nobody gets a second copy."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from pipeline.audience.subscribers import add
from pipeline.db import Store
from pipeline.settings import load_settings
from tests.support import db
from tests.support.cli import Result, ok
from tests.support.scheduling import Clock, scheduler
from tests.support.ses_stub import SesStub
from tests.web.test_serve_scheduler import (  # noqa: F401 (a fixture)
    READERS,
    _due_schedule,
    _environment,
    _start,
    _wait_for,
    started,
)

MORE = [f"late{i:03d}@example.org" for i in range(100)]


def _sent() -> int:
    return int(db.one("SELECT count(*) FROM deliveries WHERE status = 'sent'") or 0)


def test_a_killed_worker_is_said_and_the_next_scheduler_takes_over(
    project: Path,
    database_url: str,
    stub: SesStub,
    cli: object,
    started: list[subprocess.Popen[bytes]],  # noqa: F811
) -> None:
    _due_schedule(project)
    with Store.open(load_settings().database_url) as store:
        for reader in MORE:
            add(store, reader, "weekly")
    aws = {k: v for k, v in os.environ.items() if k.startswith("AWS_")}
    stub.delay = 0.5  # 16 in flight: about 30 messages/s, caught mid-campaign
    process, log = _start(["worker"], _environment(database_url, aws), project, started)
    _wait_for("16 sent", lambda: _sent() >= 16, process, log)
    process.send_signal(signal.SIGKILL)
    process.wait()

    listed: Result = cli("schedule", "list", "--format", "json")  # type: ignore[operator]
    (row,) = json.loads(ok(listed).stdout)
    assert row["state"] == "running"
    assert "its sender is gone" in row["note"]
    said = ok(cli("log"))  # type: ignore[operator]
    assert "running schedule, sender gone: issue 25 to 'weekly'" in said.stderr

    stub.delay = 0
    with Store.open(load_settings().database_url) as store:
        tick = scheduler(store, Clock(datetime.now(UTC))).tick()
    assert len(tick.started) == 1, tick
    assert db.one("SELECT state FROM schedules") == "sent"
    everyone = set(READERS) | set(MORE)
    unknown = {r[0] for r in db.rows("SELECT email FROM deliveries WHERE status = 'unknown'")}
    assert unknown and len(unknown) <= 16  # only what was in flight is uncertain
    copies = stub.per_recipient()
    assert max(copies.values()) == 1  # nobody got two copies
    assert set(copies) >= everyone - unknown
