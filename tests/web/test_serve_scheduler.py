"""The background loops in the long-running processes, started the way a user starts them:
`newsletter worker` (no web app) and `newsletter serve` (beside the web app), each its own
process, sending a due schedule from its stored rendering (the issue file is gone by then),
sending a signup's confirmation, and stopping cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from pipeline.audience.subscribers import add, create_list
from pipeline.db import Store
from pipeline.delivery import schedule_edits
from pipeline.delivery.sendlog import SendLog
from pipeline.issue.build import build
from pipeline.issue.render import render_web
from pipeline.settings import load_settings
from tests.support import db
from tests.support.cli import ROOT, TEST_SECRET
from tests.support.scheduling import OLD_SUBJECT, issue_copy
from tests.support.ses_stub import SesStub, default_account
from tests.web.test_serve_process import free_port

READERS = [f"reader{i}@example.org" for i in range(6)]
PATIENCE = 60.0  # seconds: a cold start of the CLI on a busy, shared machine


def _due_schedule(project: Path) -> None:
    """A list, and the sample issue scheduled for a moment ago (as if `schedule` had run
    then), rendered and stored; then the file is deleted."""
    settings = load_settings()
    path = issue_copy(project)
    with Store.open(settings.database_url) as store:
        create_list(store, "weekly")
        for reader in READERS:
            add(store, reader, "weekly")
        weekly = SendLog(store).list_of("weekly")
        built = build(path, settings)
        assert built.issue is not None and not built.errors
        now = datetime.now(UTC)
        schedule_edits.save(
            store,
            built,
            weekly,
            now - timedelta(seconds=30),
            "Asia/Seoul",
            render_web(built.issue, settings),
            source_sha256="0" * 64,
            now=now - timedelta(seconds=60),
        )
    path.unlink()


def _environment(database_url: str, extra: dict[str, str]) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("NEWSLETTER_", "AWS_")) and "proxy" not in name.lower()
    }
    return env | {
        "NEWSLETTER_DATABASE_URL": database_url,
        "NEWSLETTER_SECRET_KEY": TEST_SECRET,
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def _state() -> str | None:
    value = db.one("SELECT state FROM schedules")
    return None if value is None else str(value)


def _wait_for(what: str, check: object, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + PATIENCE
    while not check():  # type: ignore[operator]
        assert process.poll() is None, log.read_text(encoding="utf-8")
        assert time.monotonic() < deadline, f"{what}: " + log.read_text(encoding="utf-8")
        time.sleep(0.1)


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def _start(
    args: list[str], env: dict[str, str], cwd: Path, started: list[subprocess.Popen[bytes]]
) -> tuple[subprocess.Popen[bytes], Path]:
    log = cwd / f"{args[0]}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "pipeline", *args],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    started.append(process)
    return process, log


def test_worker_dry_run_rehearses_a_due_schedule_and_stops_on_sigterm(
    project: Path, database_url: str, started: list[subprocess.Popen[bytes]]
) -> None:
    """It logs every message of a due schedule and leaves the schedule to a real worker."""
    _due_schedule(project)
    env = _environment(database_url, {})
    process, log = _start(["worker", "--dry-run"], env, project, started)
    finished = "SELECT count(*) FROM campaigns WHERE status = 'finished'"
    _wait_for("the dry run done", lambda: db.one(finished) == 1, process, log)
    campaign = db.rows("SELECT dry_run, status, subject FROM campaigns")
    assert [tuple(r) for r in campaign] == [(True, "finished", OLD_SUBJECT)]
    assert db.one("SELECT count(*) FROM deliveries WHERE status = 'sent'") == len(READERS)
    assert _state() == "scheduled"
    assert db.one("SELECT campaign_id FROM schedules") is None

    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=PATIENCE) == 0
    text = log.read_text(encoding="utf-8")
    assert "worker stopped" in text
    assert "dry run: logging (not sending) scheduled issue 25 to 'weekly'" in text
    assert "the schedule still waits for `serve` or `worker`" in text
    assert "Traceback" not in text


def test_serve_runs_the_scheduler_beside_the_web_app(
    project: Path,
    database_url: str,
    started: list[subprocess.Popen[bytes]],
) -> None:
    _due_schedule(project)
    with SesStub(account=default_account(max_send_rate=1000)) as stub:
        env = _environment(
            database_url,
            {
                "AWS_REGION": "us-east-1",
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_ENDPOINT_URL_SESV2": stub.endpoint_url,
                "AWS_CONFIG_FILE": os.devnull,
                "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            },
        )
        port = free_port()
        process, log = _start(["serve", "--port", str(port)], env, project, started)
        _wait_for("the schedule sent", lambda: _state() == "sent", process, log)
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        assert stub.per_recipient() == dict.fromkeys(READERS, 1)
        assert {m.subject for m in stub.accepted} == {OLD_SUBJECT}

        # The outbox runs beside them: a signup on the form gets its confirmation.
        db.execute("UPDATE lists SET public = true")
        answer = httpx.post(
            f"http://127.0.0.1:{port}/subscribe",
            data={"email": "new@example.org", "list": "weekly", "website": ""},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

        def confirmed_by_mail() -> bool:
            return stub.per_recipient().get("new@example.org") == 1

        _wait_for("the confirmation sent", confirmed_by_mail, process, log)
        # SES has it; the outbox records that when the answer is back, a moment later.
        _wait_for("the outbox row sent", lambda: db.one("SELECT status FROM outbox") == "sent",
                  process, log)  # fmt: skip
        assert stub.per_recipient().get("new@example.org") == 1  # and once only

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=PATIENCE) in (0, -signal.SIGTERM)
    text = log.read_text(encoding="utf-8")
    assert "Finished server process" in text
    assert "Traceback" not in text


@pytest.mark.single_backend
def test_background_loops_each_run_until_stopped_and_one_crash_stops_no_other() -> None:
    from pipeline.cli.background import running

    passes: list[str] = []
    stopped = threading.Event()

    def crashing(stop: threading.Event) -> None:
        raise RuntimeError("a bug in one loop")

    def steady(stop: threading.Event) -> None:
        passes.append("started")
        stop.wait()
        stopped.set()

    with running([("crashing", crashing), ("steady", steady)]) as stop:
        deadline = time.monotonic() + PATIENCE
        while not passes:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not stop.is_set()
    assert stop.is_set() and stopped.is_set()  # leaving the block stopped and joined it
