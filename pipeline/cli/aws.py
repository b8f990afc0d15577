"""`newsletter aws setup` and `newsletter doctor`: the AWS account made ready, then proved."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from pipeline.cli import kit
from pipeline.output import Format, dumps, emit_rows
from pipeline.settings import DEFAULT_CONFIG, ENV_PREFIX

if TYPE_CHECKING:
    from pipeline.aws.records import Record

# The pipeline.aws modules (boto3, dnspython, tomlkit) are imported by these two commands
# only: every other command starts without them.

aws_app = typer.Typer(
    help="Set up the AWS account: SES identity, configuration set, SNS topic, subscription.",
    no_args_is_help=True,
)


def _settings_path(ctx: typer.Context) -> Path:
    return kit.state(ctx).config or Path(os.environ.get(f"{ENV_PREFIX}CONFIG") or DEFAULT_CONFIG)


@aws_app.command("setup")
def setup(
    ctx: typer.Context,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan and the DNS records; change nothing.")
    ] = False,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue", help="Deliver events to a new SQS queue for `events poll`, not to serve."
        ),
    ] = False,
    track: Annotated[bool, typer.Option("--track", help="Also publish Open and Click.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    wait: Annotated[
        float,
        typer.Option("--wait", help="Seconds to wait for the app to confirm the SNS subscription."),
    ] = 10.0,
    print_only: Annotated[
        bool,
        typer.Option(
            "--print", help="Print the settings to add instead of writing the settings file."
        ),
    ] = False,
) -> None:
    """Make what SES needs to send and report back, then print the DNS records to publish.
    Running it again changes nothing and says so."""
    from pipeline.aws import settings_file
    from pipeline.aws.clients import Aws
    from pipeline.aws.setup import Setup

    settings = kit.settings(ctx)
    job = Setup(Aws.connect(), settings, queue=queue, track=track, confirm_wait=wait)
    steps = job.plan()
    emit_rows([s.as_row() for s in steps], ["what", "state", "detail"], Format.table, title="AWS")
    todo = [s for s in steps if s.run is not None]
    path = _settings_path(ctx)
    if dry_run:
        kit.say(f"dry run: {len(todo)} change(s) to make; nothing changed")
        _show_records(job.records())
        return
    if todo:
        kit.confirm(f"Make these {len(todo)} change(s) in AWS region {job.aws.region}?", yes)
    outcome = job.apply(steps, on_step=lambda s: kit.say(f"done: {s.state} {s.subject}"))
    if not todo:
        kit.say("nothing to do: everything is in place")
    _show_records(outcome.records)
    new = settings_file.changes(path, outcome.settings)
    if print_only:
        kit.say(f"add these lines to {path}:")
        print(settings_file.snippet(outcome.settings), end="")
    elif new:
        settings_file.write(path, new)
        kit.say(f"{path}: set {', '.join(new)}")
    if outcome.pending_subscription:
        kit.say(
            f"[yellow]the subscription of {job.endpoint} waits for confirmation[/]: `serve` "
            "must run with the topic in sns_topic_arns (restart it after this change), then "
            "run `newsletter aws setup` again"
        )
    kit.say("next: publish the DNS records above, then run `newsletter doctor`")


def _show_records(found: list[Record]) -> None:
    from pipeline.aws import records as dns_records

    emit_rows(
        [{"name": r.name, "type": r.type, "value": r.value, "why": r.why} for r in found],
        ["name", "type", "value", "why"],
        Format.table,
        title="DNS records to publish",
    )
    print("; zone file snippet")
    print(dns_records.zone_snippet(found), end="")


class Report(StrEnum):
    table = "table"
    json = "json"


def doctor(
    ctx: typer.Context,
    round_trip: Annotated[
        bool,
        typer.Option(
            "--round-trip",
            help="Also mail SES's mailbox simulator and wait until the Delivery, Bounce and "
            "Complaint events come back through the wiring and are recorded.",
        ),
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds --round-trip waits for the events.")
    ] = 120.0,
    fmt: Annotated[
        Report, typer.Option("--format", "-f", help="Output: table for people; json for scripts.")
    ] = Report.table,
) -> None:
    """Check every condition of a real send: settings, the SES account, the identity, DNS,
    the events' wiring and /healthz; each ok, warn or fail with its fix. Exit 1 on a fail."""
    from pipeline.aws import check as checks
    from pipeline.aws.clients import Aws
    from pipeline.aws.doctor import Doctor

    settings = kit.settings(ctx)
    aws = Aws.connect()
    found = Doctor(settings, aws).run()
    trips: list[dict[str, object]] = []
    if round_trip:
        from pipeline.aws.roundtrip import round_trip as run_trip
        from pipeline.db import Store

        progress = kit.say if fmt is Report.table else (lambda line: None)
        with Store.open(settings.database_url) as store:
            done = run_trip(settings, aws, store, timeout=timeout, progress=progress)
        for trip in done:
            came = trip.seconds is not None
            detail = f"{trip.seconds:.1f} s" if came else f"not back after {timeout:g} s"
            found.append(
                checks.Check(
                    "round trip",
                    f"{trip.expected} ({trip.address})",
                    checks.OK if came else checks.FAIL,
                    detail,
                    "" if came else "see the failing checks above, and `serve`'s log",
                )
            )
            trips.append({"address": trip.address, "event": trip.expected, "seconds": trip.seconds})
    if fmt is Report.table:
        emit_rows(
            [c.as_row() for c in found],
            ["area", "name", "status", "detail", "fix"],
            Format.table,
            title="newsletter doctor",
        )
        counts = checks.summary(found)
        kit.say(f"{counts['ok']} ok, {counts['warn']} warn, {counts['fail']} fail")
    else:
        document = {
            "checks": [c.as_row() for c in found],
            "summary": {**checks.summary(found), "failed": checks.failed(found)},
        }
        if round_trip:
            document["round_trip"] = trips
        print(dumps(document))
    if checks.failed(found):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(aws_app, name="aws")
    app.command("doctor")(doctor)
