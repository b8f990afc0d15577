"""`newsletter log`: the send log, campaign by campaign or reader by reader."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from pipeline.cli import kit
from pipeline.cli.segments import audience_shown
from pipeline.db import Store
from pipeline.delivery import schedule as schedules
from pipeline.delivery import senders
from pipeline.delivery.sendlog import Campaign, SendLog
from pipeline.errors import InputError, NewsletterError, NotFoundError
from pipeline.output import Format, emit_rows

DELIVERY_COLUMNS = [
    "email",
    "status",
    "message_id",
    "error",
    "attempts",
    "claimed_at",
    "sent_at",
    "updated_at",
]


def log_cmd(
    ctx: typer.Context,
    issue: Annotated[
        str | None, typer.Argument(help="An issue file or number: one row per recipient.")
    ] = None,
    list_name: Annotated[str | None, typer.Option("--list", "-l", help="Only this list.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only rows with this status (sent, failed, unknown, ...).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the dry run's log.")] = False,
    campaign_id: Annotated[
        int | None,
        typer.Option("--campaign", help="With an issue: this campaign (id from `log`)."),
    ] = None,
    fmt: kit.FormatOption = Format.table,
) -> None:
    """The send log: campaign summaries (with the audience: the whole list, a segment or a
    filter), or with an issue, one row per recipient."""
    settings = kit.settings(ctx)
    number = kit.issue_number(issue) if issue is not None else None
    with Store.open(settings.database_url) as store:
        sendlog = SendLog(store)
        _say_schedules(store, number, list_name, settings.sender_lease_seconds)
        found = sendlog.campaigns(issue_number=number, list_name=list_name)
        if number is None:
            rows = [
                {
                    "id": c.id,
                    "issue": c.issue_number,
                    "list": c.list_name,
                    "status": c.status + (" (dry run)" if c.dry_run else ""),
                    "audience": audience_shown(c),
                    "targeted": sum(counts.values()),
                    **counts,
                    "started_at": c.started_at,
                    "finished_at": c.finished_at,
                }
                for c, counts in found
            ]
            columns = ["id", "issue", "list", "audience", "status", "targeted", "sent", "failed"]
            columns += ["skipped", "unknown", "pending", "sending", "started_at", "finished_at"]
            emit_rows(rows, columns, fmt, title="Campaigns")
            running = [c for c, _ in found if c.status == "running"]
            if running and fmt == Format.table:
                _show_senders(store, running)
            return
        chosen = [(c, n) for c, n in found if c.dry_run == dry_run]
        if not chosen:
            raise NewsletterError(
                f"no {'dry-run ' if dry_run else ''}campaign of issue {number}"
                + (f" to list {list_name!r}" if list_name else ""),
                hint="`newsletter log` lists the campaigns",
            )
        if campaign_id is not None:
            chosen = [(c, n) for c, n in chosen if c.id == campaign_id]
        if len({c.list_name for c, _ in chosen}) > 1:
            names = ", ".join(sorted({str(c.list_name) for c, _ in chosen}))
            raise InputError(
                f"issue {number} went to several lists ({names})", hint="pick one with --list"
            )
        if len(chosen) > 1:
            names = ", ".join(f"{c.id} ({audience_shown(c)})" for c, _ in chosen)
            raise InputError(
                f"issue {number} went out in several campaigns: {names}",
                hint="pick one with --campaign ID",
            )
        if not chosen:
            raise NotFoundError(f"no campaign {campaign_id} of issue {number}")
        campaign = chosen[0][0]
        emit_rows(
            sendlog.deliveries(campaign.id, status=status),
            DELIVERY_COLUMNS,
            fmt,
            title=f"Issue {number} to {campaign.list_name}"
            + ("" if not campaign.audience else f" ({audience_shown(campaign)})"),
        )


def _say_schedules(
    store: Store, number: int | None, list_name: str | None, lease_seconds: float
) -> None:
    """Missed, waiting and orphaned schedules, on stderr: a missed one, or one whose sender
    is gone, is never left unsaid."""
    for found in schedules.listing(store, lease_seconds):
        if (number is not None and found.issue_number != number) or (
            list_name is not None and found.list_name != list_name
        ):
            continue
        what = f"issue {found.issue_number} to '{escape(found.list_name)}'"
        at = f"{found.send_at:%Y-%m-%d %H:%M} UTC"
        if found.state == "missed":
            kit.say(f"[yellow]missed schedule:[/] {what} at {at}: {escape(found.note or '')}")
        elif found.sender_gone:
            gone = escape(found.status_note() or "")
            kit.say(f"[yellow]running schedule, sender gone:[/] {what} at {at}: {gone}")
        elif found.state == "scheduled":
            note = found.status_note()
            kit.say(f"scheduled: {what} at {at}" + (f" ({escape(note)})" if note else ""))


def _show_senders(store: Store, running: list[Campaign]) -> None:
    """Who is sending the running campaigns, from their leases."""
    rows = [
        {
            "campaign": c.id,
            "host": s.host,
            "pid": s.pid,
            "state": s.state,
            "rate": f"{s.rate:.1f}/s",
            "sent": s.sent,
            "since": s.started_at,
            "heartbeat": s.heartbeat_at,
        }
        for c in running
        for s in senders.of_campaign(store, c.id)
    ]
    if rows:
        columns = ["campaign", "host", "pid", "state", "rate", "sent", "since", "heartbeat"]
        emit_rows(rows, columns, Format.table, title="Senders")
