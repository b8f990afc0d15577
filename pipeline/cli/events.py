"""Commands that listen and report: events ingest/poll, report."""

from __future__ import annotations

import os
import re
import signal
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape as markup_escape

from pipeline.cli import kit
from pipeline.db import Store
from pipeline.delivery.sendlog import SendLog
from pipeline.delivery.transports.ses import aws_region
from pipeline.errors import InputError, NotFoundError
from pipeline.feedback import ingest as feedback
from pipeline.feedback import report_html
from pipeline.feedback.report import reports
from pipeline.output import Format, dumps, emit_rows
from pipeline.text import escape_controls

events_app = typer.Typer(
    help="SES events (bounces, complaints, deliveries, opens, clicks): ingest or poll them.",
    no_args_is_help=True,
)


def _show_ingest(report: feedback.IngestReport) -> None:
    for line, reason in report.invalid:
        kit.say(f"[red]invalid[/] {f'line {line}: ' if line else ''}{reason}")
    for change in report.changes:
        kit.say(f"  {change}")
    kit.say(report.summary())


@events_app.command("ingest")
def ingest(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="JSON Lines: SNS envelopes or bare SES events.")],
) -> None:
    """Record SES events saved in a file (one JSON document a line). Safe to rerun."""
    settings = kit.settings(ctx)
    with Store.open(settings.database_url) as store:
        report = feedback.ingest(store, file)
    _show_ingest(report)
    if report.invalid:
        raise typer.Exit(1)


@events_app.command("poll")
def poll(
    ctx: typer.Context,
    queue: Annotated[
        str | None,
        typer.Option("--queue", help="The SQS queue URL (default: the events_queue_url setting)."),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Stop when the queue is empty instead of waiting.")
    ] = False,
    wait: Annotated[int, typer.Option(help="Long-poll seconds per request (0-20).")] = 20,
) -> None:
    """Pull SES events from an SQS queue subscribed to the SES topic (no public endpoint
    needed). Messages are deleted only after their event is recorded."""
    import boto3

    if not 0 <= wait <= 20:
        raise InputError("--wait must be between 0 and 20 seconds")
    settings = kit.settings(ctx)
    queue = queue or settings.events_queue_url
    if not queue:
        raise InputError(
            "no queue to poll",
            hint="give --queue URL, or set events_queue_url (`newsletter aws setup --queue` does)",
        )
    stop = {"now": False}

    def on_signal(signum: int, frame: Any) -> None:
        stop["now"] = True

    previous = signal.signal(signal.SIGTERM, on_signal)
    total = feedback.IngestReport()
    try:
        with Store.open(settings.database_url) as store:
            total = feedback.poll(
                store,
                queue,
                client=boto3.client("sqs", region_name=_sqs_region(queue)),
                wait_seconds=wait,
                once=once,
                on_batch=lambda r: kit.say(r.summary()) if not once else None,
                should_stop=lambda: stop["now"],
            )
    except KeyboardInterrupt:
        kit.say("stopped")
    finally:
        signal.signal(signal.SIGTERM, previous)
    _show_ingest(total)
    if total.invalid:
        raise typer.Exit(1)


def _sqs_region(queue_url: str) -> str:
    found = re.match(r"https://sqs\.([a-z0-9-]+)\.amazonaws\.com", queue_url)
    return aws_region(found.group(1) if found else None)


def report(
    ctx: typer.Context,
    issue: Annotated[str | None, typer.Argument(help="An issue file or number.")] = None,
    list_name: Annotated[str | None, typer.Option("--list", "-l", help="Only this list.")] = None,
    missing: Annotated[
        bool,
        typer.Option("--missing", help="Everyone targeted who did not get the issue, and why."),
    ] = False,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Write one campaign's report as a self-contained HTML page (charts, rates "
            "against SES's and Gmail's thresholds, the list week by week) to this file.",
        ),
    ] = None,
    campaign_id: Annotated[
        int | None,
        typer.Option(
            "--campaign",
            help="With an issue: only this campaign (the id `report` and `log` show), for an "
            "issue sent to several segments of one list.",
        ),
    ] = None,
    fmt: kit.FormatOption = Format.table,
) -> None:
    """Per campaign: targeted, sent, delivered, bounced, complained, unsubscribed, opens and
    clicks (approximate), failed, unknown; rates flagged against SES's and Gmail's limits.
    With --html FILE, one campaign's report as a page that opens anywhere (charts and
    tables, nothing fetched)."""
    settings = kit.settings(ctx)
    number = kit.issue_number(issue) if issue is not None else None
    if html is not None:
        if number is None:
            raise InputError("--html needs an issue", hint="newsletter report ISSUE --html FILE")
        if missing:
            raise InputError(
                "--html and --missing do not go together",
                hint="run `newsletter report ISSUE --missing` on its own",
            )
        with Store.open(settings.database_url) as store:
            reported, page = report_html.build(
                store,
                number,
                list_name,
                name=settings.name,
                lang=settings.lang,
                campaign_id=campaign_id,
            )
        write_atomically(html, page)
        where = markup_escape(f"{reported['list']} written to {html.resolve()}")
        kit.say(f"report of issue {number} to {where}")
        return
    with Store.open(settings.database_url) as store:
        if list_name is not None:
            SendLog(store).list_of(list_name)  # a clear error for an unknown list
        found = reports(store, issue_number=number, list_name=list_name)
        if campaign_id is not None:
            found = [r for r in found if r["campaign"] == campaign_id]
        if not found:
            raise NotFoundError(
                "no campaign to report on", hint="`newsletter log` lists the campaigns"
            )
        if missing:
            if len(found) > 1:
                raise InputError("--missing needs one campaign", hint="give an issue and --list")
            from pipeline.feedback.eventstore import EventStore

            rows = EventStore(store).missing(found[0]["campaign"])
            emit_rows(rows, ["email", "status", "reason"], fmt, title="Did not get the issue")
            return
    if fmt in (Format.json, Format.jsonl):
        for record in found if fmt is Format.jsonl else [found]:
            typer.echo(dumps(record))
        return
    if fmt is Format.csv:
        emit_rows(found, [k for k in found[0] if k != "top_links"], fmt)
        return
    for record in found:
        _print_report(record)


def _print_report(r: dict[str, Any]) -> None:
    def pct(value: float) -> str:
        return f"{value * 100:.2f}%"

    from rich.console import Console

    out = Console(soft_wrap=True)
    marks = {"ok": "ok", "warning": "[yellow]WARNING[/]", "danger": "[red]DANGER[/]"}
    out.print(
        f"[bold]Issue {r['issue']} to {r['list']}[/] ({r['status']}, started "
        f"{r['started_at']:%Y-%m-%d %H:%M} UTC)",
        highlight=False,
    )
    audience = r["audience"] or "whole list"
    if r["segment"]:
        audience = f"segment {r['segment']}: {audience}"
    rows = [
        ("audience", markup_escape(audience)),
        *([("left out as inactive", r["skipped_inactive"])] if r["skipped_inactive"] else []),
        ("targeted", r["targeted"]),
        ("sent", r["sent"]),
        ("delivered", r["delivered"]),
        (
            "bounced",
            f"{r['bounced']} ({r['bounced_permanent']} permanent, "
            f"{r['bounced_transient']} transient)",
        ),
        ("complained", r["complained"]),
        ("unsubscribed after it", r["unsubscribed"]),
        ("unique opens (approx.)", r["unique_opens"]),
        ("unique clicks (approx.)", r["unique_clicks"]),
        ("failed", r["failed"]),
        ("unknown", r["unknown"]),
        (
            "bounce rate",
            f"{pct(r['bounce_rate'])} {marks[r['bounce_rate_flag']]} (SES reviews at 5%)",
        ),
        (
            "complaint rate",
            f"{pct(r['complaint_rate'])} {marks[r['complaint_rate_flag']]} "
            "(SES reviews at 0.1%, Gmail requires < 0.3%)",
        ),
    ]
    for label, value in rows:
        out.print(f"  {label:<24} {value}", highlight=False)
    if r["top_links"]:
        out.print("  top links:", highlight=False)
        for link in r["top_links"]:
            out.print(
                # A link came in an event anyone could shape: no escape sequence reaches
                # the terminal.
                f"    {link['unique_clicks']:>5}  {escape_controls(link['link'])}",
                highlight=False,
                markup=False,
            )


def write_atomically(path: Path, text: str) -> None:
    """Write beside the target and rename over it: an error leaves no half-written file."""
    folder = path.parent
    if not folder.is_dir():
        raise InputError(
            f"{path}: the folder {folder} does not exist", hint="create it or choose another path"
        )
    if path.is_dir():
        raise InputError(f"{path} is a folder", hint="give a file name, like report.html")
    temporary = None
    try:
        with tempfile.NamedTemporaryFile(
            "w", encoding="utf-8", dir=folder, prefix=f".{path.name}.", suffix=".tmp", delete=False
        ) as handle:
            temporary = Path(handle.name)
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        temporary.chmod(0o644)  # a page to share or host, not a secret (mkstemp gives 0600)
        os.replace(temporary, path)
    except OSError as exc:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise InputError(
            f"{path}: cannot write the report: {exc.strerror or exc}",
            hint="check the folder's permissions and free space",
        ) from exc


def register(app: typer.Typer) -> None:
    app.command("report")(report)
    app.add_typer(events_app, name="events")
