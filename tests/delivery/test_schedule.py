"""Scheduled campaigns end to end: `schedule`, then the scheduler (its clock driven by the
test) sends the stored rendering through SES (our stub, over real HTTP) at its time, not
before; cancel; missed after the grace period, then `send` recovers it."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.scheduling import (
    NEW_SUBJECT,
    OLD_SUBJECT,
    Clock,
    at,
    edit_subject,
    issue_copy,
    listed,
    only,
    scheduler,
    tomorrow,
)
from tests.support.sending import (
    Cli,
    counts,
    make_list,
    ok,
    people,
    received,
    refused,
    store,
    use_ses,
)
from tests.support.ses_stub import SesStub, default_account

READERS = people(5)


@pytest.fixture
def issue(project: Path, cli: Cli) -> Path:
    make_list(cli, "weekly", READERS)
    return issue_copy(project)


def test_sends_the_stored_rendering_at_its_time_and_not_before(
    cli: Cli, issue: Path, stub: SesStub
) -> None:
    when = tomorrow()
    scheduled = ok(cli("schedule", issue, "--list", "weekly", "--at", at(when), "--tz", "UTC"))
    assert f"{when:%Y-%m-%d %H:%M} UTC" in scheduled.stderr
    entry = only(cli)
    assert entry["state"] == "scheduled"
    assert entry["at"] == when.isoformat().replace("+00:00", "Z")
    assert entry["file_changed"] is False

    # The author edits the file after scheduling: the schedule says so, and what goes out
    # is still what was checked and rendered.
    edit_subject(issue)
    entry = only(cli)
    assert entry["file_changed"] is True
    assert "changed since scheduled: run `schedule` again" in entry["note"]
    table = ok(cli("schedule", "list")).stdout
    assert "changed since scheduled" in table

    with store() as db:
        clock = Clock(when - timedelta(minutes=1))
        sender = scheduler(db, clock)
        early = sender.tick()
        assert early.started == [] and stub.accepted == []
        assert only(cli)["state"] == "scheduled"

        clock.set(when)
        due = sender.tick()
    assert len(due.started) == 1
    assert received(stub) == {email: 1 for email, _ in READERS}
    assert {m.subject for m in stub.accepted} == {OLD_SUBJECT}
    assert all(NEW_SUBJECT not in (m.html or "") + (m.text or "") for m in stub.accepted)
    assert all("Maintaining large-scale AI capacity at Meta" in (m.html or "")
               for m in stub.accepted)  # fmt: skip
    assert counts()["sent"] == len(READERS)
    entry = only(cli)
    assert entry["state"] == "sent"
    assert entry["campaign_status"] == "finished"

    # Nothing is sent twice: a later pass finds nothing due.
    with store() as db:
        clock.set(when + timedelta(minutes=5))
        assert scheduler(db, clock).tick().started == []
    assert len(stub.accepted) == len(READERS)


def test_a_cancelled_schedule_sends_nothing(cli: Cli, issue: Path, stub: SesStub) -> None:
    when = tomorrow()
    ok(cli("schedule", issue, "--list", "weekly", "--at", at(when), "--tz", "UTC"))
    cancelled = ok(cli("schedule", "cancel", "25", "--list", "weekly"))
    assert "cancelled" in cancelled.stderr
    assert only(cli)["state"] == "cancelled"
    with store() as db:
        assert scheduler(db, Clock(when + timedelta(seconds=1))).tick().started == []
    assert stub.accepted == []
    refused(cli("schedule", "cancel", "26", "--list", "weekly"), "not scheduled")


def test_missed_after_the_grace_period_is_said_and_send_recovers_it(
    cli: Cli, issue: Path, stub: SesStub
) -> None:
    when = tomorrow()
    ok(cli("schedule", issue, "--list", "weekly", "--at", at(when), "--tz", "UTC"))
    with store() as db:
        # The server was down: it comes back just over an hour (schedule_grace) late.
        clock = Clock(when + timedelta(seconds=3601))
        late = scheduler(db, clock).tick()
        assert [m.issue_number for m in late.missed] == [25]
        assert late.started == []
        clock.set(when + timedelta(hours=3))
        assert scheduler(db, clock).tick().started == []  # and never later either
    assert stub.accepted == []
    entry = only(cli)
    assert entry["state"] == "missed"
    assert "missed" in entry["note"] and "newsletter send" in entry["note"]
    log = ok(cli("log"))
    assert "missed schedule" in log.stderr and "issue 25" in log.stderr

    sent = ok(cli("send", issue, "--list", "weekly", "--yes", "--rate", "1000"))
    assert "was missed" in sent.stderr
    assert received(stub) == {email: 1 for email, _ in READERS}
    entry = only(cli)
    assert entry["state"] == "sent"
    assert "after it was missed" in entry["note"]
    assert "missed schedule" not in ok(cli("log")).stderr
    # Sent is sent: scheduling it to the same list again is refused.
    again = cli("schedule", issue, "--list", "weekly", "--at", at(tomorrow(48)), "--tz", "UTC")
    refused(again, "finished campaign")
    assert only(cli)["state"] == "sent"


def test_within_the_grace_period_it_still_goes_out(cli: Cli, issue: Path, stub: SesStub) -> None:
    when = tomorrow()
    ok(cli("schedule", issue, "--list", "weekly", "--at", at(when), "--tz", "UTC"))
    with store() as db:
        done = scheduler(db, Clock(when + timedelta(seconds=3599))).tick()
    assert len(done.started) == 1 and done.missed == []
    assert len(stub.accepted) == len(READERS)


def test_a_schedule_starts_at_its_time_with_a_short_grace(
    cli: Cli, issue: Path, stub: SesStub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loop, at its default interval, wakes at a schedule's time: a grace of a few
    seconds is enough, and the campaign starts well within the interval."""
    from pipeline.clock import utcnow
    from pipeline.delivery import schedule as schedules
    from pipeline.delivery.scheduler import INTERVAL_SECONDS
    from pipeline.delivery.sendlog import SendLog

    monkeypatch.setenv("NEWSLETTER_SCHEDULE_GRACE", "3")
    when = (utcnow() + timedelta(seconds=2)).replace(microsecond=0)
    ok(cli("schedule", issue, "--list", "weekly", "--at", when.isoformat(), "--tz", "UTC"))
    stop = threading.Event()
    with store() as db:
        loop = threading.Thread(target=scheduler(db, utcnow).loop, args=(stop,))
        loop.start()
        try:
            deadline = time.monotonic() + 60
            while only(cli)["state"] in ("scheduled", "running"):
                assert time.monotonic() < deadline and loop.is_alive()
                time.sleep(0.05)
        finally:
            stop.set()
            loop.join(timeout=60)
        (after,) = schedules.listing(db)
        campaign = SendLog(db).find(after.issue_number, after.list_id)
    assert after.state == "sent", after.note
    assert campaign is not None
    delay = (campaign.started_at - when).total_seconds()
    assert 0 <= delay < INTERVAL_SECONDS / 4, delay
    assert received(stub) == {email: 1 for email, _ in READERS}


def test_scheduling_again_replaces_the_schedule_and_takes_the_new_file(
    cli: Cli, issue: Path, stub: SesStub
) -> None:
    first, second = tomorrow(), tomorrow(48)
    ok(cli("schedule", issue, "--list", "weekly", "--at", at(first), "--tz", "UTC"))
    edit_subject(issue)
    again = ok(cli("schedule", issue, "--list", "weekly", "--at", at(second), "--tz", "UTC"))
    assert "replaced" in again.stderr
    entry = only(cli)
    assert entry["at"].startswith(f"{second:%Y-%m-%dT%H:%M}")
    assert entry["file_changed"] is False and entry["subject"] == NEW_SUBJECT
    with store() as db:
        clock = Clock(first)
        assert scheduler(db, clock).tick().started == []
        clock.set(second)
        assert len(scheduler(db, clock).tick().started) == 1
    assert {m.subject for m in stub.accepted} == {NEW_SUBJECT}


def test_a_crash_leaves_it_running_and_send_resumes_the_stored_rendering(
    cli: Cli, issue: Path, stub: SesStub
) -> None:
    """The scheduler claimed it and died before its campaign ended: `send` resumes the
    campaign with the issue as scheduled, and the schedule settles as sent."""
    from pipeline.delivery import schedule as schedules

    when = tomorrow()
    ok(cli("schedule", issue, "--list", "weekly", "--at", at(when), "--tz", "UTC"))
    with store() as db:
        (due,) = schedules.due(db, when)
        assert schedules.claim(db, due, when, "a scheduler that then died")
    entry = only(cli)
    assert entry["state"] == "running" and "never started" in entry["note"]
    edit_subject(issue)
    resumed = ok(cli("send", issue, "--list", "weekly", "--yes", "--rate", "1000"))
    assert "as it was scheduled" in resumed.stderr
    assert {m.subject for m in stub.accepted} == {OLD_SUBJECT}
    assert only(cli)["state"] == "sent"
    assert listed(cli)[0]["campaign_status"] == "finished"


def test_stopping_the_scheduler_mid_campaign_pauses_it_and_send_resumes(
    cli: Cli, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM to `serve` or `worker` sets the loops' stop event: the campaign finishes
    what SES holds, records it and pauses; the schedule stays running and says so."""
    readers = people(40, prefix="slow")
    with SesStub(account=default_account(max_send_rate=1000), delay=0.2) as slow:
        use_ses(monkeypatch, slow.endpoint_url)
        _clock, path = _stopped_mid_campaign(cli, project, slow, readers)
        entry = only(cli)
        assert "campaign paused" in entry["note"] and "newsletter send" in entry["note"]
        ok(cli("send", path, "--list", "weekly", "--yes", "--rate", "1000"))
        assert received(slow) == {email: 1 for email, _ in readers}
    assert only(cli)["state"] == "sent"


def _stopped_mid_campaign(
    cli: Cli, project: Path, slow: SesStub, readers: list[tuple[str, str]]
) -> tuple[Clock, Path]:
    """The sample scheduled for a few minutes ahead, its scheduler stopped (as by SIGTERM)
    after the first messages went out. Returns the clock at the schedule's time and the
    issue file."""
    make_list(cli, "weekly", readers)
    # A few minutes ahead of the real clock: the campaign's own times are real ones.
    when = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=3)
    path = issue_copy(project)
    ok(cli("schedule", path, "--list", "weekly", "--at", at(when), "--tz", "UTC"))
    stop = threading.Event()
    with store() as db:
        loop = threading.Thread(target=scheduler(db, Clock(when)).loop, args=(stop, 0.05))
        loop.start()
        deadline = time.monotonic() + 60
        while not slow.accepted:
            assert time.monotonic() < deadline and loop.is_alive()
            time.sleep(0.01)
        stop.set()
        loop.join(timeout=60)
        assert not loop.is_alive()
    assert 0 < len(slow.accepted) < len(readers)
    assert only(cli)["state"] == "running" and only(cli)["campaign_status"] == "paused"
    return Clock(when), path


def test_a_campaign_paused_by_a_shutdown_is_resumed_when_the_scheduler_starts_again(
    cli: Cli, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A deploy restarts `serve`: the campaign it stopped goes on where it stopped, without
    anyone running `send`, and nobody gets a second copy."""
    readers = people(30, prefix="restart")
    with SesStub(account=default_account(max_send_rate=1000), delay=0.1) as slow:
        use_ses(monkeypatch, slow.endpoint_url)
        clock, _path = _stopped_mid_campaign(cli, project, slow, readers)
        assert "the scheduler resumes it" in only(cli)["note"]
        clock.set(clock() + timedelta(minutes=2))  # the new process starts a little later
        with store() as db:
            tick = scheduler(db, clock).tick()
        assert len(tick.started) == 1
        assert received(slow) == {email: 1 for email, _ in readers}
        with store() as db:  # the next pass settles the schedule
            scheduler(db, clock).tick()
    assert only(cli)["state"] == "sent"


def test_a_shutdown_pause_older_than_the_grace_period_waits_for_send(
    cli: Cli, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Never sent late in silence: a campaign paused by a shutdown long ago stays paused
    until a person resumes it."""
    readers = people(30, prefix="late")
    with SesStub(account=default_account(max_send_rate=1000), delay=0.1) as slow:
        use_ses(monkeypatch, slow.endpoint_url)
        clock, _path = _stopped_mid_campaign(cli, project, slow, readers)
        sent_before = len(slow.accepted)
        clock.set(clock() + timedelta(hours=3))  # beyond the default grace of an hour
        with store() as db:
            assert scheduler(db, clock).tick().started == []
        assert len(slow.accepted) == sent_before
        assert only(cli)["campaign_status"] == "paused"


# What a schedule says once `send` or the scheduler ran its campaign: both go through the
# one flow of `delivery/service.py`, and the schedule follows the campaign by one rule.


def _scheduled(cli: Cli, issue: Path) -> datetime:
    when = tomorrow()
    ok(cli("schedule", issue, "--list", "weekly", "--at", at(when), "--tz", "UTC"))
    return when


def test_send_before_its_time_takes_the_place_of_the_schedule(
    cli: Cli, issue: Path, stub: SesStub
) -> None:
    _scheduled(cli, issue)
    sent = ok(cli("send", issue, "--list", "weekly", "--yes", "--rate", "1000"))
    assert "this send takes its place" in sent.stderr
    assert received(stub) == {email: 1 for email, _ in READERS}
    entry = only(cli)
    assert entry["state"] == "sent" and entry["campaign_status"] == "finished"
    assert entry["note"] == "sent by `newsletter send` before its time"


def test_a_dry_run_send_leaves_the_schedule_waiting(cli: Cli, issue: Path, stub: SesStub) -> None:
    _scheduled(cli, issue)
    dry = ok(cli("send", issue, "--list", "weekly", "--dry-run"))
    assert "takes its place" not in dry.stderr
    entry = only(cli)
    assert entry["state"] == "scheduled" and entry["campaign"] is None
    assert stub.accepted == []


def test_what_a_schedule_sent_by_the_scheduler_says(cli: Cli, issue: Path, stub: SesStub) -> None:
    when = _scheduled(cli, issue)
    with store() as db:
        assert len(scheduler(db, Clock(when)).tick().started) == 1
    entry = only(cli)
    assert entry["state"] == "sent" and entry["note"] is None
    assert received(stub) == {email: 1 for email, _ in READERS}


def test_a_dry_run_scheduler_leaves_the_schedule_to_the_real_one(
    cli: Cli, issue: Path, stub: SesStub
) -> None:
    """`worker --dry-run` rehearses a due schedule (a dry-run campaign, logged) and writes
    nothing a real scheduler acts on: the real one still sends it, to everyone, once."""
    when = _scheduled(cli, issue)
    with store() as db:
        dry = scheduler(db, Clock(when), dry_run=True)
        rehearsal = dry.tick()
        assert len(rehearsal.started) == 1
        assert rehearsal.started[0][1].campaign.dry_run
        assert dry.tick().started == []  # rehearsed once, not at every pass
    assert stub.accepted == []
    entry = only(cli)
    assert entry["state"] == "scheduled" and entry["campaign"] is None
    with store() as db:
        assert len(scheduler(db, Clock(when + timedelta(seconds=30))).tick().started) == 1
    assert received(stub) == {email: 1 for email, _ in READERS}
    assert only(cli)["state"] == "sent"


def test_a_dry_run_scheduler_marks_nothing_missed(cli: Cli, issue: Path, stub: SesStub) -> None:
    when = _scheduled(cli, issue)
    with store() as db:
        late = scheduler(db, Clock(when + timedelta(hours=2)), dry_run=True).tick()
    assert [m.issue_number for m in late.missed] == [25] and late.started == []
    assert only(cli)["state"] == "scheduled"
    assert stub.accepted == []


def test_a_schedule_that_cannot_start_waits_again_with_the_reason(
    cli: Cli, issue: Path, stub: SesStub
) -> None:
    when = _scheduled(cli, issue)
    stub.account = default_account(sending_enabled=False)
    with store() as db:
        tick = scheduler(db, Clock(when)).tick()
    assert tick.started == [] and len(tick.failed) == 1
    entry = only(cli)
    assert entry["state"] == "scheduled" and entry["campaign"] is None
    assert entry["note"].startswith("could not start: sending is disabled for this SES account")
    # Once SES lets it, the next pass within the grace period starts it.
    stub.account = default_account(max_send_rate=1000)
    with store() as db:
        assert len(scheduler(db, Clock(when + timedelta(minutes=1))).tick().started) == 1
    assert only(cli)["state"] == "sent"
    assert received(stub) == {email: 1 for email, _ in READERS}


def test_the_send_flow_runs_as_a_library_and_the_schedule_follows_its_campaign(
    cli: Cli, issue: Path
) -> None:
    """No CLI, no subprocess: take over the schedule, plan, run; the schedule is sent."""
    from pipeline.delivery import schedule as schedules
    from pipeline.delivery import service
    from pipeline.delivery.transports.dryrun import DryRunTransport
    from pipeline.issue.build import build
    from pipeline.settings import load_settings

    _scheduled(cli, issue)
    settings = load_settings()
    built = build(issue, settings)
    assert built.issue is not None
    with store() as db:
        list_id = schedules.listing(db)[0].list_id
        assert service.take_over(db, built.issue.number, list_id, dry_run=True) is None
        found = service.take_over(db, built.issue.number, list_id)
        assert found is not None and found.state == "scheduled"
        request = service.Request("weekly", rate=1000)
        prepared = service.prepare(db, request, DryRunTransport, built=built, schedule=found)
        assert prepared.plan.to_send == len(READERS) and prepared.by is None
        report = service.run_campaign(db, settings, prepared)
        assert report.campaign.status == "finished" and report.counts["sent"] == len(READERS)
        (after,) = schedules.listing(db)
    assert after.state == "sent" and after.campaign_id == report.campaign.id
    assert [schedules.follows(s) for s in (None, "running", "paused", "finished")] == [
        "running",
        "running",
        "running",
        "sent",
    ]


def test_a_schedule_to_a_segment_sends_to_it_alone(cli: Cli, issue: Path, stub: SesStub) -> None:
    """The audience is fixed with the schedule (a segment's filter as it was then) and
    the campaign the scheduler starts is for it; `send` to the whole list is another
    campaign and does not take the schedule's place."""
    ok(cli("subscribers", "tag", READERS[1][0], "vip"))
    ok(cli("segments", "create", "vip", "--list", "weekly", "--where", "tag:vip"))
    when = tomorrow()
    scheduled = ok(
        cli("schedule", issue, "-l", "weekly", "--at", at(when), "--tz", "UTC", "--segment", "vip")
    )
    assert "recipients: 1 now" in scheduled.stderr
    assert only(cli)["audience"] == "segment 'vip' (tag:vip)"
    ok(cli("segments", "update", "vip", "--where", "tag:nobody"))  # too late for the schedule
    with store() as db:
        assert len(scheduler(db, Clock(when)).tick().started) == 1
    assert received(stub) == {READERS[1][0]: 1}
    assert only(cli)["state"] == "sent"
