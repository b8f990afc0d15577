"""`newsletter schedule`: the time read in a zone from zoneinfo (Asia/Seoul, UTC, a DST gap
and a repeated hour in America/New_York), shown in UTC and in the zone; refused in the
past, with a broken issue, or for a campaign that started already."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from tests.support.cli import Result, ok, refused
from tests.support.scheduling import Cli, at, issue_copy, listed, only, tomorrow
from tests.support.sending import make_list, people


def schedule(cli: Cli, issue: Path, when: str, tz: str | None = None) -> Result:
    """`newsletter schedule ISSUE --list weekly --at WHEN [--tz TZ]`."""
    zone = ["--tz", tz] if tz else []
    return cli("schedule", issue, "--list", "weekly", "--at", when, *zone)


@pytest.fixture
def issue(project: Path, cli: Cli) -> Path:
    make_list(cli, "weekly", people(2))
    return issue_copy(project)


def _sunday(year: int, month: int, nth: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(6 - first.weekday()) % 7 + 7 * (nth - 1))


NEXT_YEAR = datetime.now(UTC).year + 1
DST_STARTS = _sunday(NEXT_YEAR, 3, 2)  # America/New_York: 02:00 -> 03:00
DST_ENDS = _sunday(NEXT_YEAR, 11, 1)  # America/New_York: 02:00 -> 01:00


def test_seoul_time_is_stored_in_utc_and_shown_in_both(cli: Cli, issue: Path) -> None:
    day = tomorrow(48).date()
    done = ok(schedule(cli, issue, f"{day} 09:00", "Asia/Seoul"))
    assert f"{day} 00:00 UTC" in done.stderr
    assert f"{day} 09:00 KST, Asia/Seoul" in done.stderr
    entry = only(cli)
    assert entry["at"] == f"{day}T00:00:00Z"
    assert entry["timezone"] == "Asia/Seoul"
    assert "09:00 KST" in ok(cli("schedule", "list")).stdout


def test_the_timezone_setting_is_the_default_zone(
    cli: Cli, issue: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_TIMEZONE", "Asia/Seoul")
    day = tomorrow(48).date()
    ok(cli("schedule", issue, "--list", "weekly", "--at", f"{day} 09:00"))
    assert only(cli)["at"] == f"{day}T00:00:00Z"
    # --tz wins over the setting
    ok(schedule(cli, issue, f"{day} 09:00", "UTC"))
    assert only(cli)["at"] == f"{day}T09:00:00Z"


def test_a_time_in_the_dst_gap_is_refused_with_times_that_exist(cli: Cli, issue: Path) -> None:
    gap = refused(
        schedule(cli, issue, f"{DST_STARTS} 02:30", "America/New_York"),
        "does not exist in America/New_York",
    )
    assert f"{DST_STARTS} 01:30" in gap.stderr and f"{DST_STARTS} 03:30" in gap.stderr
    assert listed(cli) == []
    # Either side of the gap is fine, and is 06:59 / 07:00 UTC.
    ok(schedule(cli, issue, f"{DST_STARTS} 03:00", "America/New_York"))
    assert only(cli)["at"] == f"{DST_STARTS}T07:00:00Z"
    ok(schedule(cli, issue, f"{DST_STARTS} 01:59", "America/New_York"))
    assert only(cli)["at"] == f"{DST_STARTS}T06:59:00Z"


def test_a_repeated_hour_is_refused_until_the_offset_says_which(cli: Cli, issue: Path) -> None:
    twice = refused(
        schedule(cli, issue, f"{DST_ENDS} 01:30", "America/New_York"),
        "happens twice",
    )
    assert "05:30 UTC" in twice.stderr and "06:30 UTC" in twice.stderr
    assert "-04:00" in twice.stderr and "-05:00" in twice.stderr
    ok(schedule(cli, issue, f"{DST_ENDS} 01:30-05:00", "America/New_York"))
    assert only(cli)["at"] == f"{DST_ENDS}T06:30:00Z"


def test_a_time_in_the_past_is_refused_with_the_time_now(cli: Cli, issue: Path) -> None:
    past = datetime.now(UTC) - timedelta(minutes=5)
    result = refused(schedule(cli, issue, at(past), "UTC"), "in the past")
    assert "it is now" in result.stderr
    assert listed(cli) == []


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--at", "next tuesday", "--tz", "UTC"], ["not a date and time"]),
        (["--at", "2099-01-01 09:00", "--tz", "Mars/Olympus"], ["unknown time zone"]),
        (["--at", at(tomorrow()), "--list", "nope"], ["nope"]),
    ],
)
def test_bad_input_is_refused_cleanly(
    cli: Cli, issue: Path, args: list[str], words: list[str]
) -> None:
    command = ["schedule", issue, *args]
    if "--list" not in args:
        command += ["--list", "weekly"]
    refused(cli(*command), *words)
    assert listed(cli) == []


def test_an_issue_with_errors_is_not_scheduled(cli: Cli, issue: Path) -> None:
    text = issue.read_text(encoding="utf-8")
    issue.write_text(text.replace("number: 25", "number: -3"), encoding="utf-8")
    refused(schedule(cli, issue, at(tomorrow()), "UTC"), "error")
    assert listed(cli) == []


def test_a_dry_run_does_not_stand_in_the_way_of_a_schedule(cli: Cli, issue: Path) -> None:
    ok(cli("send", issue, "--list", "weekly", "--dry-run"))  # a dry run does not count
    ok(schedule(cli, issue, at(tomorrow()), "UTC"))
    ok(cli("schedule", "cancel", str(issue), "--list", "weekly"))
    assert only(cli)["state"] == "cancelled"


def test_schedule_list_is_empty_at_first(cli: Cli, project: Path) -> None:
    assert listed(cli) == []
    assert "no schedules" in ok(cli("schedule", "list")).stderr


def test_deleting_a_list_with_a_waiting_schedule_needs_force_and_says_what_it_cancelled(
    cli: Cli, issue: Path
) -> None:
    when = tomorrow()
    ok(schedule(cli, issue, at(when), "UTC"))
    shown = f"issue 25 at {when:%Y-%m-%d %H:%M} UTC"
    refusal = refused(cli("lists", "delete", "weekly"), "schedule(s) still to send", shown)
    assert "--force" in refusal.stderr and "schedule cancel" in refusal.stderr
    assert only(cli)["state"] == "scheduled"  # nothing deleted
    deleted = ok(cli("lists", "delete", "weekly", "--force"))
    assert "cancelled its schedule(s)" in deleted.stderr and shown in deleted.stderr
    assert listed(cli) == []


def test_a_list_whose_schedule_was_cancelled_is_deleted_without_force(
    cli: Cli, issue: Path
) -> None:
    ok(schedule(cli, issue, at(tomorrow()), "UTC"))
    ok(cli("schedule", "cancel", "25", "--list", "weekly"))
    deleted = ok(cli("lists", "delete", "weekly"))
    assert "schedule" not in deleted.stderr


@pytest.mark.parametrize("at_text", ["9999-12-31 23:59+00:00", "9999-12-31 23:59"])
def test_a_year_9999_is_refused_before_anything_is_stored(
    cli: Cli, issue: Path, at_text: str
) -> None:
    refused(schedule(cli, issue, at_text, "Asia/Seoul"), "--at", "too far ahead", "5 years")
    assert listed(cli) == []


def test_a_schedule_stored_at_the_end_of_time_is_listed_not_a_crash(cli: Cli, issue: Path) -> None:
    """A row an older version stored (year 9999 UTC, shown in Seoul, past datetime's
    range): `schedule list` and `log` show it; cancelling it works."""
    from pipeline.db import Store
    from pipeline.delivery import schedule_edits
    from pipeline.delivery.sendlog import SendLog
    from pipeline.issue.build import build
    from pipeline.issue.render import render_web
    from pipeline.settings import load_settings

    settings = load_settings()
    built = build(issue, settings)
    assert built.issue is not None
    end = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    with Store.open(settings.database_url) as store:
        weekly = SendLog(store).list_of("weekly")
        html = render_web(built.issue, settings)
        schedule_edits.save(store, built, weekly, end, "Asia/Seoul", html, source_sha256="0" * 64)
    assert only(cli)["at"] == "9999-12-31T23:59:00Z"
    table = ok(cli("schedule", "list")).stdout
    assert "9999-12-31 23:59" in table and "out of range" in table
    ok(cli("log"))
    ok(cli("schedule", "cancel", "25", "--list", "weekly"))
    assert only(cli)["state"] == "cancelled"


def test_an_issue_file_replaced_by_a_fifo_does_not_hang_list_or_log(cli: Cli, issue: Path) -> None:
    import os

    ok(schedule(cli, issue, at(tomorrow()), "UTC"))
    issue.unlink()
    os.mkfifo(issue)  # nobody ever writes to it: opening it to read would wait for ever
    entry = only(cli)
    assert entry["file_changed"] is True
    assert "changed since scheduled" in ok(cli("schedule", "list")).stdout
    assert "changed since scheduled" in ok(cli("log")).stderr
