"""`newsletter form` and `newsletter signups ...`: readers who join on their own."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from pipeline.audience import lists
from pipeline.audience import signup as lib
from pipeline.audience.signup_form import form_html
from pipeline.cli import kit
from pipeline.db import Store
from pipeline.delivery import outbox, outbox_preview
from pipeline.delivery.outbox_mail import OutboxRow
from pipeline.delivery.pacing import Pace
from pipeline.delivery.transports import make_transport
from pipeline.errors import InputError
from pipeline.output import Format, emit_rows

SHOWN = 10  # addresses named in a summary, then "and N more"

signups_app = typer.Typer(
    help="Signups on the form: `newsletter signups` shows what waits; `signups send` sends it.",
    no_args_is_help=False,
    rich_markup_mode=None,
)


@signups_app.callback(invoke_without_command=True)
def signups_show(ctx: typer.Context, fmt: kit.FormatOption = Format.table) -> None:
    """Signup requests waiting for the processor, and the outbox (confirmations, welcomes)
    by status. `newsletter serve` handles them as they come."""
    if ctx.invoked_subcommand is not None:
        return
    with Store.open(kit.settings(ctx).database_url) as store:
        found = lib.counts(store)
    rows = [{"what": what, "count": count} for what, count in found.items()]
    emit_rows(rows, ["what", "count"], fmt, title="Signups")


@signups_app.command("send")
def signups_send(
    ctx: typer.Context,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Say what a real run would handle and send, building every message; "
            "write nothing and send nothing.",
        ),
    ] = False,
    retry_unknown: Annotated[
        bool,
        typer.Option(
            "--retry-unknown",
            help="Also send again the messages whose fate is unknown (a sender stopped "
            "while they were in flight): their reader may get a second copy.",
        ),
    ] = False,
    rate: Annotated[
        float, typer.Option("--rate", help="Messages a second at most.", min=0.01)
    ] = outbox.DEFAULT_RATE,
) -> None:
    """Handle the waiting signup requests and send the outbox once (what the web app's
    background loop does every second)."""
    settings = kit.settings(ctx)
    settings.require_secret_key()
    if dry_run:
        if retry_unknown:
            raise InputError("--dry-run and --retry-unknown together", hint="use one or the other")
        with Store.open(settings.database_url) as store:
            _say_preview(outbox_preview.preview(store, settings))
        return
    transport = make_transport(settings, dry_run=False, max_connections=4)()
    with Store.open(settings.database_url) as store:
        done = outbox.run_once(
            store, settings, transport, pace=Pace(rate), retry_unknown=retry_unknown
        )
        left = lib.counts(store)
    processed = done.processed
    if done.requeued is not None:
        _say_requeued(done.requeued)
    kit.say(
        f"handled {processed.handled} signup request(s) ({processed.confirmations} "
        f"confirmation(s) queued); sent {done.sent}, failed {done.failed}, unknown {done.unknown}"
    )
    unknown, in_flight = left["outbox unknown"], left["outbox sending"]
    if unknown and not retry_unknown:
        kit.say(
            f"{unknown} message(s) are 'unknown' (a sender stopped while they were in "
            "flight; SES may have sent them): not sent again; `newsletter signups send "
            "--retry-unknown` sends them again"
        )
    if in_flight:
        minutes = int(outbox.STALE.total_seconds() // 60)
        kit.say(
            f"{in_flight} message(s) are in flight with another sender; if it has stopped, "
            f"they become 'unknown' {minutes} minutes after it took them"
        )
    if done.stopped:
        raise InputError(
            f"sending stopped: {done.stopped}", hint="run it again once SES accepts mail"
        )


def _addresses(rows: list[OutboxRow]) -> str:
    shown = ", ".join(row.email for row in rows[:SHOWN])
    return shown + (f" and {len(rows) - SHOWN} more" if len(rows) > SHOWN else "")


def _say_requeued(requeued: outbox.Requeued) -> None:
    kinds = Counter(row.kind for row in requeued.again)
    kit.say(
        f"sending again: {len(requeued.again)} unknown ({kinds['confirmation']} "
        f"confirmation(s), {kinds['welcome']} welcome(s))"
        + (f": {_addresses(requeued.again)}" if requeued.again else "")
    )
    if requeued.superseded:
        kit.say(
            f"not sent again: {len(requeued.superseded)} unknown that a later message to the "
            f"same reader replaced: {_addresses(requeued.superseded)}"
        )


def _say_preview(found: outbox_preview.Preview) -> None:
    processed, kinds = found.processed, found.kinds()
    outcomes = Counter(processed.outcomes)
    kit.say(
        f"dry run: would handle {processed.handled} signup request(s) "
        f"({processed.confirmations} confirmation(s) queued)"
        + "".join(f"; {n} {outcome}" for outcome, n in sorted(outcomes.items()))
    )
    kit.say(
        f"dry run: would send {len(found.would_send)} message(s) ({kinds['confirmation']} "
        f"confirmation(s), {kinds['welcome']} welcome(s))"
        + (f": {_addresses(found.would_send)}" if found.would_send else "")
    )
    if found.not_wanted:
        kit.say(f"dry run: would drop {len(found.not_wanted)} no longer wanted: "
                f"{_addresses(found.not_wanted)}")  # fmt: skip
    for row, why in found.cannot_build[:SHOWN]:
        kit.say(f"dry run: the {row.kind} to {row.email} would fail: {why}")
    if found.would_become_unknown:
        kit.say(f"dry run: {found.would_become_unknown} message(s) left in flight by a "
                "stopped sender would become 'unknown'")  # fmt: skip
    if found.unknown:
        kit.say(f"{found.unknown} message(s) are 'unknown': only --retry-unknown sends them")
    kit.say("dry run: nothing was written and nothing left this machine")


def form(ctx: typer.Context) -> None:
    """Print an HTML signup form to paste into any web page: it posts to
    `<public_url>/subscribe` and offers the public lists."""
    settings = kit.settings(ctx)
    with Store.open(settings.database_url) as store:
        public = lists.public_lists(store)
    if not public:
        raise InputError(
            "no list is public, so the form would offer nothing",
            hint="`newsletter lists update NAME --public` offers one on the form",
        )
    print(form_html(settings, public, action=f"{settings.public_url}/subscribe"))


def register(app: typer.Typer) -> None:
    app.add_typer(signups_app, name="signups")
    app.command("form")(form)
