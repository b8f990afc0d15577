"""A campaign whose own bounces or complaints would get the SES account reviewed pauses
itself while it sends, says why and what to do, and `send` resumes it once a person looked.

The send is a real process against a slow stub; the events of what the stub accepted are
fed meanwhile through the real ingest path, as SNS or SQS would deliver them."""

from __future__ import annotations

import subprocess
import time
from typing import Any

import pytest

from pipeline.db import Store
from pipeline.feedback.ingest import record_all
from tests.support.sending import (
    Cli,
    by_status,
    campaign,
    deliveries,
    make_list,
    ok,
    people,
    received,
    send,
    ses_events,
    spawn_send,
)
from tests.support.ses_stub import SesStub

MEMBERS = people(200)


@pytest.fixture
def ses_stub_options() -> dict[str, Any]:
    from tests.support.ses_stub import default_account

    return {"account": default_account(max_send_rate=10_000)}


def _feed_events_while_sending(
    process: subprocess.Popen[str], stub: SesStub, database_url: str, harmful: str, every: int
) -> tuple[str, int]:
    """Until the send ends: a Delivery event for each accepted message, and `harmful` (a
    hard Bounce or a Complaint) for every `every`-th one."""
    fed = 0
    deadline = time.monotonic() + 60
    with Store.open(database_url) as store:
        while process.poll() is None:
            assert time.monotonic() < deadline, "the send did not stop"
            accepted = list(stub.accepted)[fed:]
            for message in accepted:
                fed += 1
                kinds = (harmful,) if fed % every == 0 else ("Delivery",)
                record_all(store, ses_events([message], kinds=kinds))
            time.sleep(0.05)
    _, stderr = process.communicate()
    return stderr, process.returncode


@pytest.mark.parametrize(
    ("harmful", "every", "what"),
    [("Bounce", 10, "bounce"), ("Complaint", 15, "complaint")],
    ids=["hard-bounces", "complaints"],
)
def test_a_campaign_past_the_bounce_or_complaint_threshold_pauses_and_resumes_on_send(
    cli: Cli,
    stub: SesStub,
    processes: list[subprocess.Popen[str]],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    harmful: str,
    every: int,
    what: str,
) -> None:
    monkeypatch.setenv("NEWSLETTER_PAUSE_MIN_SENT", "30")  # a sample this small list allows
    make_list(cli, "weekly", MEMBERS)
    stub.delay = 0.1  # about 20 messages/s on two workers: ten seconds for the list
    process = spawn_send("--rate", "1000", "--concurrency", "2")
    processes.append(process)
    stderr, code = _feed_events_while_sending(process, stub, database_url, harmful, every)

    assert code == 4, stderr  # paused, not by the user
    assert "Traceback" not in stderr
    assert f"paused: the {what} rate of this run is" in stderr
    assert f"past pause_{what}_rate" in stderr
    assert "`newsletter send` resumes it" in stderr
    found = campaign()
    assert found is not None and found.status == "paused"
    assert found.pause_reason is not None and f"{what} rate" in found.pause_reason
    rows = deliveries()
    assert 30 <= len(by_status(rows, "sent")) < len(MEMBERS)

    # A person looked: `send` resumes it, judging its own messages afresh.
    stub.delay = 0
    result = ok(send(cli))
    assert "resuming the paused campaign" in result.stderr
    assert f"campaign finished: {len(MEMBERS)} sent" in result.stderr
    assert received(stub) == dict.fromkeys((m[0] for m in MEMBERS), 1)
