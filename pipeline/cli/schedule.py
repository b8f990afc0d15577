"""`newsletter schedule ...`: campaigns that start at a given time.

`newsletter schedule ISSUE --list L --at TIME` (the same as `schedule add ...`), then
`schedule list` and `schedule cancel`. `newsletter serve` and `newsletter worker` send them.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from typer import _click
from typer.core import TyperGroup

from pipeline.audience import segments
from pipeline.cli import kit
from pipeline.cli.issue import IssueArg, _checked
from pipeline.cli.segments import SegmentOption, SkipInactiveOption, WhereOption
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.delivery import overlap, schedule_edits, snapshot, when
from pipeline.delivery import schedule as schedules
from pipeline.delivery.sendlog import SendLog
from pipeline.errors import InputError
from pipeline.issue.render import render_web
from pipeline.output import Format, emit_rows
from pipeline.text import shown

ListOption = Annotated[str, typer.Option("--list", "-l", help="The list to send to.")]
COLUMNS = ["issue", "list", "at", "local", "state", "subject", "note"]


class _ScheduleGroup(TyperGroup):
    """`schedule ISSUE ...` is `schedule add ISSUE ...`: the first word that names no
    subcommand (nor an option) is the issue."""

    def parse_args(self, ctx: _click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["add", *args]
        return super().parse_args(ctx, args)


group = typer.Typer(
    cls=_ScheduleGroup,
    no_args_is_help=True,
    help="Schedule a campaign: newsletter schedule ISSUE --list L --at 'YYYY-MM-DD HH:MM' "
    "[--tz ZONE]; then `schedule list` and `schedule cancel`. `newsletter serve` or "
    "`newsletter worker` sends it at that time.",
)


def _zone_name(ctx: typer.Context, tz: str | None) -> str:
    if tz:
        when.zone(tz)
        return tz
    return kit.settings(ctx).timezone or when.machine_zone()


@group.command("add")
def add(
    ctx: typer.Context,
    issue: IssueArg,
    list_name: ListOption,
    at: Annotated[
        str,
        typer.Option(
            "--at", help="When: 'YYYY-MM-DD HH:MM' in --tz, or with an offset ('...+09:00')."
        ),
    ],
    tz: Annotated[
        str | None,
        typer.Option(
            "--tz", help="Time zone of --at (default: the `timezone` setting, else this machine's)."
        ),
    ] = None,
    segment: SegmentOption = None,
    where: WhereOption = None,
    skip_inactive: SkipInactiveOption = 0,
) -> None:
    """Check and render the issue now, and send that rendering at --at.

    A later edit to the file needs `schedule` again; `schedule list` says when the file
    changed. Scheduling the issue to the same list again replaces the schedule.
    """
    settings = kit.settings(ctx)
    settings.require_secret_key()
    zone_name = _zone_name(ctx, tz)
    moment = when.parse_at(at, zone_name, utcnow())
    with Store.open(settings.database_url) as store:  # a wrong filter is named first
        target = segments.audience(
            store, list_name, segment=segment, where=where, skip_inactive=skip_inactive
        )
    # Read before the build: the digest is of the bytes that were rendered, or earlier.
    digest = snapshot.sha256_of(issue)
    built = _checked(issue, ctx)
    assert built.issue is not None and built.rendered is not None
    web_html = render_web(built.issue, settings)
    if digest is None or snapshot.sha256_of(issue) != digest:
        raise InputError(f"{issue} changed while it was being rendered", hint="run it again")
    with Store.open(settings.database_url) as store:
        mailing_list = SendLog(store).list_of(list_name)
        saved, replaced = schedule_edits.save(
            store,
            built,
            mailing_list,
            moment.utc,
            zone_name,
            web_html,
            source_sha256=digest,
            audience=target,
        )
        counted = overlap.count(store, saved.issue_number, mailing_list.id, target)
    if replaced is not None:
        kit.say(f"replaced the {replaced.state} schedule of {replaced.send_at:%Y-%m-%d %H:%M} UTC")
    kit.say(
        f"scheduled issue {saved.issue_number} to list '{escape(list_name)}' at "
        f"{escape(when.describe(moment))}"
    )
    if not tz and not settings.timezone:
        kit.say(
            f"  ({escape(zone_name)} is this machine's zone: set `timezone` in newsletter.toml "
            "or pass --tz to choose)"
        )
    kit.say(f"  subject:    {escape(saved.subject)}")
    for note in overlap.notes(target, counted, saved.issue_number):
        kit.say(f"  {escape(note)}")
    kit.say(f"  recipients: {counted.to_send:,} now (counted again when it starts)")
    kit.say(
        "  it goes out as rendered now; edit the file and it needs `newsletter schedule` again. "
        "`newsletter serve` or `newsletter worker` must be running at that time."
    )


def _row(found: schedules.Schedule) -> dict[str, Any]:
    row = found.as_dict()
    try:
        local = found.send_at.astimezone(when.zone(found.timezone, "the stored zone"))
        row["local"] = f"{local:%Y-%m-%d %H:%M %Z} ({found.timezone})"
    except (InputError, OverflowError):
        # A row stored before `--at` and `--tz` were bounded: shown, never a crash.
        row["local"] = f"not shown in {shown(found.timezone, 40)}: out of range"
    return row


@group.command("list")
def list_cmd(ctx: typer.Context, fmt: kit.FormatOption = Format.table) -> None:
    """Every schedule: issue, list, time (UTC), state, and whether the file changed since."""
    settings = kit.settings(ctx)
    with Store.open(settings.database_url) as store:
        found = schedules.listing(store, settings.sender_lease_seconds)
    rows = [_row(s) for s in found]
    if fmt is Format.table:
        for row in rows:
            row["at"] = row["at"].replace("T", " ").replace(":00Z", " UTC")
    emit_rows(rows, COLUMNS if fmt is Format.table else list(rows[0]) if rows else COLUMNS, fmt,
              title="Schedules")  # fmt: skip
    if fmt is Format.table and not rows:
        kit.say("no schedules: `newsletter schedule ISSUE --list L --at TIME` makes one")


@group.command("cancel")
def cancel(ctx: typer.Context, issue: Annotated[str, typer.Argument(
        help="An issue file or number.")], list_name: ListOption) -> None:  # fmt: skip
    """Cancel a schedule that has not started."""
    settings = kit.settings(ctx)
    number = kit.issue_number(issue)
    with Store.open(settings.database_url) as store:
        mailing_list = SendLog(store).list_of(list_name)
        cancelled = schedule_edits.cancel(store, number, mailing_list)
    kit.say(
        f"cancelled the schedule of issue {number} to list '{escape(list_name)}' "
        f"({cancelled.send_at:%Y-%m-%d %H:%M} UTC); nothing was sent"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(group, name="schedule")
