"""Commands that send: send, send-test, log."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pipeline.audience import segments
from pipeline.cli import kit
from pipeline.cli.issue import IssueArg, _checked
from pipeline.cli.log import log_cmd
from pipeline.cli.segments import (
    SegmentOption,
    SkipInactiveOption,
    WhereOption,
    audience_of,
)
from pipeline.db import Store
from pipeline.delivery import campaign as campaigns
from pipeline.delivery import overlap, service, testcopy
from pipeline.delivery import schedule as schedules
from pipeline.delivery.send import Progress
from pipeline.delivery.sendlog import SendLog
from pipeline.delivery.transports import make_transport
from pipeline.delivery.transports.base import Transport
from pipeline.errors import InputError
from pipeline.issue.build import Build


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


@contextmanager
def _progress_display(total_hint: int) -> Iterator[Callable[[Progress], None]]:
    """A progress bar on a terminal; plain log lines every few seconds otherwise."""
    if kit.err.is_terminal:
        from rich.progress import BarColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        bar = Bar(
            TextColumn("sending"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TextColumn("sent {task.fields[sent]} · failed {task.fields[failed]}"),
            TextColumn("{task.fields[rate]:.1f}/s"),
            TimeRemainingColumn(),
            console=kit.err,
        )
        task = bar.add_task("send", total=total_hint, sent=0, failed=0, rate=0.0)

        def update(progress: Progress) -> None:
            bar.update(
                task,
                total=progress.total,
                completed=progress.done,
                sent=progress.sent,
                failed=progress.failed,
                rate=progress.rate,
            )

        with bar:
            yield update
        return
    last_time = [0.0]
    last_state: list[tuple[int, int, int]] = []

    def log_line(progress: Progress) -> None:
        now = time.monotonic()
        state = (progress.done, progress.sent, progress.failed)
        seen = last_state[-1:] == [state]
        if seen or (now - last_time[0] < 5 and progress.done < progress.total):
            return
        last_time[0] = now
        last_state[:] = [state]
        remaining = progress.total - progress.done
        eta = _duration(remaining / progress.rate) if progress.rate else "?"
        kit.say(
            f"sent {progress.sent}, failed {progress.failed}, skipped {progress.skipped} "
            f"of {progress.total} ({progress.rate:.1f}/s, ETA {eta})"
        )

    yield log_line


def send(
    ctx: typer.Context,
    issue: IssueArg,
    list_name: Annotated[str, typer.Option("--list", "-l", help="The list to send to.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Render and log every message; call no SES.")
    ] = False,
    rate: Annotated[
        float | None,
        typer.Option(
            help="Messages per second at most (default: the account's MaxSendRate; "
            "14 where SES does not report it)."
        ),
    ] = None,
    concurrency: Annotated[int, typer.Option(help="Messages in flight at once.")] = 16,
    retry_unknown: Annotated[
        bool, typer.Option("--retry-unknown", help="Resend rows left unknown by a crash.")
    ] = False,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Retry rows that failed.")
    ] = False,
    segment: SegmentOption = None,
    where: WhereOption = None,
    skip_inactive: SkipInactiveOption = 0,
) -> None:
    """Send an issue to every active member of a list through Amazon SES, or to those a
    segment or a filter chooses.

    Shows what will happen and asks first. Running it again (with the same --segment or
    --where) resumes an unfinished campaign; a finished one sends nothing unless
    --retry-unknown or --retry-failed. A reader never gets one issue twice, whatever
    segments of the list it goes to.
    """
    if (rate is not None and rate <= 0) or concurrency < 1:
        raise InputError("--rate must be positive and --concurrency at least 1")
    settings = kit.settings(ctx)
    settings.require_secret_key()
    with Store.open(settings.database_url) as store:  # a wrong filter is named first
        audience = segments.audience(
            store, list_name, segment=segment, where=where, skip_inactive=skip_inactive
        )
    built: Build = _checked(issue, ctx)
    assert built.issue is not None
    request = service.Request(
        list_name,
        dry_run=dry_run,
        rate=rate,
        concurrency=concurrency,
        retry_unknown=retry_unknown,
        retry_failed=retry_failed,
        lease_seconds=settings.sender_lease_seconds,
        unknown_settle_seconds=settings.unknown_settle_seconds,
        audience=audience,
    )
    with Store.open(settings.database_url) as store:
        mailing_list = SendLog(store).list_of(list_name)  # a wrong --list is named first
        scheduled = service.take_over(
            store, built.issue.number, mailing_list.id, dry_run=dry_run, audience=audience
        )
        if scheduled is not None:
            _say_take_over(scheduled)
        # After the list: a typo in --list is named before anything about AWS.
        make = make_transport(settings, dry_run=dry_run, max_connections=concurrency)
        prepared = service.prepare(store, request, make, built=built, schedule=scheduled)
        the_plan = prepared.plan
        if the_plan.recovered:
            shown = ", ".join(the_plan.recovered[:10])
            more = len(the_plan.recovered) - 10
            kit.say(
                f"[yellow]{len(the_plan.recovered)} message(s) were in flight when the last "
                f"run stopped and are now 'unknown' (not resent): {escape(shown)}"
                + (f" and {more} more" if more > 0 else "")
                + "[/]; --retry-unknown resends them"
            )
        _show_plan(the_plan, settings.from_address, prepared.transport)
        verb = "Log" if dry_run else "Send"
        kit.confirm(f"{verb} {the_plan.to_send:,} message(s)?", yes or dry_run)
        try:
            with _progress_display(the_plan.to_send) as on_progress:
                report = service.run_campaign(
                    store,
                    settings,
                    prepared,
                    on_progress=on_progress,
                    on_note=lambda text: kit.say(escape(text)),
                )
        except KeyboardInterrupt:  # a second Ctrl-C: left without waiting
            kit.say(
                "[yellow]interrupted:[/] stopped without waiting for the messages in "
                "flight; the next `newsletter send` marks them 'unknown' (never resent "
                f"without --retry-unknown). Resume with: newsletter send {escape(str(issue))}"
                f" --list {escape(list_name)}{escape(audience.options())}"
            )
            raise
    _show_report(report, issue)
    if report.campaign.status != "finished":
        raise typer.Exit(3 if report.stopped_by_user else 4)


def _say_take_over(found: schedules.Schedule) -> None:
    """The schedule this `send` takes the place of, said aloud."""
    at = f"{found.send_at:%Y-%m-%d %H:%M} UTC"
    if found.state == "running":
        changed = " (the file has changed since; those changes are not sent)"
        kit.say(
            f"resuming the campaign scheduled for {at} with the issue as it was scheduled"
            + (changed if found.file_changed() else "")
        )
    elif found.state == "missed":
        kit.say(f"[yellow]note:[/] the schedule of {at} was missed; this send takes its place")
    else:
        kit.say(f"[yellow]note:[/] this issue is scheduled for {at}; this send takes its place")


def _show_plan(the_plan: campaigns.Plan, from_address: str, transport: Transport) -> None:
    issue = the_plan.rendered.issue
    mode = "DRY RUN (no SES call)" if the_plan.dry_run else transport.name
    # User values (a subject, a list name) are printed literally, never read as markup.
    kit.say(f"Issue {issue.number} to list '{escape(the_plan.mailing_list.name)}' via {mode}")
    kit.say(f"  subject:    {escape(the_plan.rendered.subject)}")
    kit.say(f"  from:       {escape(from_address)}")
    kit.say(f"  recipients: {the_plan.to_send:,}")
    if not the_plan.dry_run:
        kit.say(
            f"  rate:       {the_plan.rate:g}/s, about {_duration(the_plan.estimated_seconds)}; "
            f"SES cost about ${the_plan.estimated_cost:,.2f}"
        )
    for note in the_plan.notes:
        kit.say(f"  {escape(note)}")
    for warning in the_plan.warnings:
        kit.say(f"[yellow]warning:[/] {escape(warning)}")


def _show_report(report: campaigns.Report, issue: Path) -> None:
    counts = report.counts
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    kit.say(f"campaign {report.campaign.status}: {summary}")
    if report.campaign.skipped_inactive:
        kit.say(f"  left out as inactive: {report.campaign.skipped_inactive:,}")
    again = audience_of(report.campaign).options()
    where = escape(f"{issue} --list {report.campaign.list_name}{again}")
    for status, flag in (("failed", "--retry-failed"), ("unknown", "--retry-unknown")):
        if counts[status]:
            kit.say(
                f"  {counts[status]} {status}: see `newsletter log {where} --status {status}`; "
                f"`newsletter send {where} {flag}` sends to them again"
            )
    if report.campaign.status == "finished":
        return
    why = report.pause_reason or ("stopped by you" if report.stopped_by_user else "interrupted")
    kit.say(f"[yellow]paused:[/] {escape(why)}")
    kit.say(f"resume with: newsletter send {where} (only the pending rows are sent)")


def send_test(
    ctx: typer.Context,
    issue: IssueArg,
    to: Annotated[
        list[str] | None, typer.Option("--to", help="An address for a test copy.")
    ] = None,
    list_name: Annotated[
        str | None, typer.Option("--list", "-l", help="With --where or --segment: the list.")
    ] = None,
    segment: SegmentOption = None,
    where: WhereOption = None,
    skip_inactive: SkipInactiveOption = 0,
) -> None:
    """Send a test copy ([TEST] in the subject) to any address; logged apart from campaigns.
    With --list and --where, --segment or --skip-inactive: first show who a `send` with
    the same options would reach (how many, and the first of them)."""
    settings = kit.settings(ctx)
    if list_name is None and (segment or where or skip_inactive):
        raise InputError("--where, --segment and --skip-inactive need --list")
    if not to and list_name is None:
        raise InputError("give --to ADDRESS, or --list with --where to see who would get it")
    if list_name is not None:
        with Store.open(settings.database_url) as store:
            number = kit.issue_number(str(issue))
            _preview(store, number, list_name, segment, where, skip_inactive)
    if not to:
        return
    built = _checked(issue, ctx)
    assert built.rendered is not None
    testcopy.parse_test_addresses(to)  # bad addresses are named before anything about AWS
    transport = make_transport(settings, dry_run=False, max_connections=2)()
    with Store.open(settings.database_url) as store:
        results = testcopy.send_test(store, settings, built.rendered, transport, to)
    failed = 0
    for address, message_id, error in results:
        if message_id:
            kit.say(f"sent a test copy to {escape(address)} (message id {message_id})")
        else:
            failed += 1
            kit.say(
                f"[red]failed[/] to send a test copy to {escape(address)}: {escape(str(error))}"
            )
    if failed:
        raise typer.Exit(1)


def _preview(
    store: Store,
    number: int,
    list_name: str,
    segment: str | None,
    where: str | None,
    skip_inactive: int,
) -> None:
    """Who a send with these options would reach now, on stdout."""
    audience = segments.audience(
        store, list_name, segment=segment, where=where, skip_inactive=skip_inactive
    )
    mailing_list = SendLog(store).list_of(list_name)
    counted = overlap.count(store, number, mailing_list.id, audience)
    kit.say(f"issue {number} to {escape(list_name)}: {escape(audience.described())}")
    for note in overlap.notes(audience, counted, number):
        kit.say(f"  {escape(note)}")
    kit.say(f"would reach {counted.to_send:,} reader(s); the first {PREVIEW}:")
    for email in overlap.receivers(store, number, mailing_list.id, audience, limit=PREVIEW):
        print(email)


PREVIEW = 20


def register(app: typer.Typer) -> None:
    app.command("send")(send)
    app.command("send-test")(send_test)
    app.command("log")(log_cmd)  # in cli/log.py
