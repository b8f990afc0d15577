"""What SES can throw at a campaign, from our fault-injecting stub over real HTTP:
throttling, 5xx, rejections, account pauses, quotas. No message is dropped or sent twice."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import pytest

from pipeline.delivery import campaign as campaigns
from pipeline.delivery import testcopy
from pipeline.delivery.send import SendOptions
from pipeline.delivery.transports.ses import SesTransport
from pipeline.issue.build import build
from pipeline.retry import RetryPolicy
from pipeline.settings import load_settings
from tests.support.sending import (
    ISSUE,
    Cli,
    assert_accounted,
    assert_log_matches_stub,
    by_status,
    campaign,
    counts,
    deliveries,
    make_list,
    ok,
    people,
    received,
    refused,
    send,
    store,
)
from tests.support.ses_stub import SesStub, default_account


def run_library(list_name: str = "weekly", **options: Any) -> campaigns.Report:
    """plan + run as `send --yes` does, with the loop's knobs the CLI does not expose."""
    settings = load_settings()
    built = build(ISSUE, settings)
    transport = SesTransport()
    with store() as db:
        the_plan = campaigns.plan(db, built, list_name, transport, rate=options.pop("rate", 1000))
        send_options = SendOptions(rate=the_plan.rate, **options)
        return campaigns.run(db, settings, the_plan, transport, send_options)


def everyone_once(stub: SesStub, members: list[tuple[str, str]]) -> None:
    assert received(stub) == dict.fromkeys((m[0] for m in members), 1)


# --- throttling: slow down, retry, never drop -------------------------------------------------


def test_a_throttling_storm_slows_the_pace_and_loses_nobody(cli: Cli, stub: SesStub) -> None:
    members = people(12)
    make_list(cli, "weekly", members)
    stub.throttle_first = 8
    report = run_library(concurrency=4)
    assert report.campaign.status == "finished"
    assert report.progress.throttled == 8  # every one reached the shared pace
    everyone_once(stub, members)
    rows = deliveries()
    assert by_status(rows, "sent") == {m[0] for m in members}
    # Every throttled try is counted on the row that was retried.
    assert sum(row["attempts"] for row in rows.values()) == 12 + 8
    assert_log_matches_stub(stub, rows)


def test_a_stub_stricter_than_the_rate_asked_for_still_gets_everyone_once(
    cli: Cli, stub: SesStub
) -> None:
    members = people(15)
    make_list(cli, "weekly", members)
    stub.max_rate = 8  # SES's real limit, below both --rate and what GetAccount claims
    result = ok(send(cli, "--concurrency", "8", rate="200"))
    assert "campaign finished: 15 sent" in result.stderr
    assert stub.counts["throttled"] > 0
    everyone_once(stub, members)
    assert_log_matches_stub(stub, deliveries())


def test_the_pace_is_the_lower_of_max_send_rate_and_rate(cli: Cli, stub: SesStub) -> None:
    make_list(cli, "weekly", people(2))
    stub.account = default_account(max_send_rate=14)
    result = ok(send(cli, rate="1000"))
    assert "rate:       14/s" in result.stderr
    assert "SES quota: 14/s, 50,000 of 50,000 left" in result.stderr


def test_throttling_that_never_ends_pauses_with_the_message_still_pending(
    cli: Cli, stub: SesStub
) -> None:
    make_list(cli, "weekly", people(1))
    stub.throttle_first = 10**9
    report = run_library(concurrency=1, throttle_give_up=0.2)
    assert report.campaign.status == "paused"
    assert report.pause_reason == "SES kept throttling for 0 s"
    assert counts()["pending"] == 1  # never dropped: the next `send` tries it again
    assert stub.accepted == []
    stub.throttle_first = 0
    ok(send(cli))
    everyone_once(stub, people(1))


# --- transient failures: bounded retries with backoff ---------------------------------------


def test_5xx_is_retried_then_failed_with_the_reason(cli: Cli, stub: SesStub) -> None:
    members = people(3)
    make_list(cli, "weekly", members)
    stub.fail_rate = 1.0
    report = run_library(concurrency=2, backoff_base=0.001, transient_attempts=4)
    assert report.campaign.status == "finished"  # failed rows are final: nothing pending
    assert report.counts["failed"] == 3
    assert stub.counts["server_error"] == 3 * 4 and stub.accepted == []
    for row in deliveries().values():
        assert row["status"] == "failed" and row["attempts"] == 4
        assert row["error"].startswith(("InternalFailure: ", "ServiceUnavailable: "))
        assert row["error"].endswith("(after 4 attempts)")


def test_5xx_then_success_is_sent_once(cli: Cli, stub: SesStub) -> None:
    make_list(cli, "weekly", people(1))
    stub.script = ["500", "503", "500", "ok"]
    report = run_library(concurrency=1, backoff_base=0.001)
    assert report.counts["sent"] == 1
    (row,) = deliveries().values()
    assert row["attempts"] == 4 and row["error"] is None
    everyone_once(stub, people(1))


def test_an_unreachable_endpoint_is_refused_with_the_cause(
    cli: Cli, stub: SesStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_list(cli, "weekly", people(1))
    closed = SesStub().start()
    url = closed.endpoint_url
    closed.stop()  # nothing listens there any more
    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", url)
    refused(send(cli), "cannot read the SES account (GetAccount): cannot reach SES", "AWS_")
    assert campaign() is None


# --- permanent rejections: that person only ---------------------------------------------------


def test_a_rejected_address_fails_alone_and_the_campaign_finishes(cli: Cli, stub: SesStub) -> None:
    members = people(6)
    make_list(cli, "weekly", members)
    bad = members[3][0]
    stub.reject = [bad]
    result = ok(send(cli))
    assert "campaign finished: 5 sent, 1 failed" in result.stderr
    assert (
        "1 failed: see `newsletter log" in result.stderr
        and "--retry-failed` sends" in result.stderr
    )
    rows = deliveries()
    assert by_status(rows, "failed") == {bad}
    assert rows[bad]["attempts"] == 1  # a permanent rejection is not retried
    assert "MessageRejected: Email address is not verified" in rows[bad]["error"]
    assert received(stub) == {m[0]: 1 for m in members if m[0] != bad}


# --- account-level stops pause the campaign ---------------------------------------------------


def test_sending_paused_pauses_the_campaign_and_resume_sends_only_the_rest(
    cli: Cli, stub: SesStub
) -> None:
    members = people(8)
    make_list(cli, "weekly", members)
    stub.script = ["ok", "ok", "ok", "paused"]
    result = send(cli, "--concurrency", "1")
    assert result.code != 0 and "Traceback" not in result.output
    assert "campaign paused: 5 pending, 3 sent" in result.stderr
    assert "paused: SendingPausedException: Sending is paused for this account." in result.stderr
    assert f"resume with: newsletter send {ISSUE} --list weekly" in result.stderr
    found = campaign()
    assert found is not None and found.status == "paused"
    assert found.pause_reason and "SendingPausedException" in found.pause_reason
    first = {m[0] for m in members[:3]}
    assert by_status(deliveries(), "sent") == first

    result = ok(send(cli))
    assert "resuming the paused campaign" in result.stderr
    assert "3 already sent, 5 to go" in result.stderr
    assert "subject changed" not in result.stderr
    everyone_once(stub, members)
    found = campaign()
    assert found is not None and found.status == "finished" and found.pause_reason is None
    assert_log_matches_stub(stub, deliveries())


def test_resuming_after_the_subject_changed_warns(cli: Cli, stub: SesStub, tmp_path) -> None:
    make_list(cli, "weekly", people(4))
    stub.script = ["ok", "paused"]
    assert send(cli, "--concurrency", "1").code != 0
    edited = tmp_path / "issues" / ISSUE.name
    edited.parent.mkdir(exist_ok=True)
    edited.write_text(
        ISSUE.read_text(encoding="utf-8").replace('subject: "', 'subject: "[Fixed] '),
        encoding="utf-8",
    )
    result = ok(cli("send", edited, "--list", "weekly", "--yes", "--rate", "1000"))
    assert "warning: the subject changed since the campaign started" in result.stderr
    subjects = [m.subject for m in stub.accepted]
    assert subjects[0].startswith("Article Weekly") and all(
        s.startswith("[Fixed] ") for s in subjects[1:]
    )


def test_a_suspended_account_pauses_and_sends_nothing(cli: Cli, stub: SesStub) -> None:
    make_list(cli, "weekly", people(4))
    stub.suspended = True
    result = send(cli)
    assert result.code != 0
    assert "AccountSuspendedException" in result.stderr
    assert counts()["pending"] == 4 and stub.accepted == []


def test_too_many_failures_in_a_row_pause_with_the_reason(cli: Cli, stub: SesStub) -> None:
    members = people(60)
    make_list(cli, "weekly", members)
    stub.reject = [m[0] for m in members]  # e.g. the From identity lost its verification
    result = send(cli, "--concurrency", "2")
    assert result.code != 0
    assert re.search(r"paused: \d+ messages in a row failed; last: MessageRejected", result.stderr)
    found = counts()
    assert found["failed"] >= 50 and found["pending"] > 0
    assert_accounted(found, 60)
    c = campaign()
    assert c is not None and c.status == "paused" and "in a row failed" in (c.pause_reason or "")


def test_sending_disabled_refuses_to_start(cli: Cli, stub: SesStub) -> None:
    make_list(cli, "weekly", people(2))
    stub.account = default_account(sending_enabled=False)
    refused(send(cli), "sending is disabled for this SES account", "SES console")
    assert stub.counts["send_requests"] == 0
    assert campaign() is None


def test_a_campaign_bigger_than_the_quota_left_warns_then_pauses_at_the_quota(
    cli: Cli, stub: SesStub
) -> None:
    members = people(5)
    make_list(cli, "weekly", members)
    stub.account = default_account(max_send_rate=1000, max_24_hour_send=10, sent_last_24_hours=7)
    stub.daily_quota = 3
    result = send(cli, "--concurrency", "1")
    assert "warning: 5 messages exceed the 3 left of the 24-hour quota" in result.stderr
    assert result.code != 0
    assert "the 24-hour quota is used up" in result.stderr
    assert counts()["sent"] == 3 and counts()["pending"] == 2
    stub.daily_quota = None
    stub.account = default_account(max_send_rate=1000)
    ok(send(cli))
    everyone_once(stub, members)


# --- test copies: the same policy, backing off (no shared pace), five tries -------------------


def send_test_copy(retry: RetryPolicy, to: str = "tester@example.com") -> tuple[str | None, ...]:
    settings = load_settings()
    built = build(ISSUE, settings)
    assert built.rendered is not None
    with store() as db:
        ((_, message_id, error),) = testcopy.send_test(
            db, settings, built.rendered, SesTransport(), [to], retry
        )
    return message_id, error


def test_a_test_copy_is_tried_again_after_a_5xx_or_a_throttle(cli: Cli, stub: SesStub) -> None:
    stub.script = ["500", "throttle", "503", "ok"]
    message_id, error = send_test_copy(replace(testcopy.RETRY, base_delay=0.001))
    assert message_id == stub.accepted[0].message_id and error is None
    assert received(stub) == {"tester@example.com": 1}
    assert stub.counts["throttled"] == 1 and stub.counts["server_error"] == 2


def test_a_test_copy_gives_up_after_five_tries_with_the_reason(cli: Cli, stub: SesStub) -> None:
    stub.fail_rate = 1.0
    message_id, error = send_test_copy(replace(testcopy.RETRY, base_delay=0.001))
    assert message_id is None and error and error.startswith(("InternalFailure", "ServiceUnav"))
    assert stub.counts["server_error"] == 5 and stub.accepted == []
