"""`newsletter form` and `newsletter signups ...`: readers who join on their own."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.audience import lists
from pipeline.audience import signup as lib
from pipeline.cli import kit
from pipeline.db import Store
from pipeline.delivery import outbox
from pipeline.delivery.pacing import Pace
from pipeline.delivery.transports import make_transport
from pipeline.errors import InputError
from pipeline.output import Format, emit_rows
from pipeline.web.signup import form_html

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
        bool, typer.Option("--dry-run", help="Render and log every message; send nothing.")
    ] = False,
    rate: Annotated[
        float, typer.Option("--rate", help="Messages a second at most.", min=0.01)
    ] = outbox.DEFAULT_RATE,
) -> None:
    """Handle the waiting signup requests and send the outbox once (what the web app's
    background loop does every second)."""
    settings = kit.settings(ctx)
    settings.require_secret_key()
    transport = make_transport(settings, dry_run=dry_run, max_connections=4)()
    with Store.open(settings.database_url) as store:
        done = outbox.run_once(store, settings, transport, pace=Pace(rate))
    processed = done.processed
    kit.say(
        f"handled {processed.handled} signup request(s) ({processed.confirmations} "
        f"confirmation(s) queued); sent {done.sent}, failed {done.failed}, unknown {done.unknown}"
        + (" (dry run: nothing left this machine)" if dry_run else "")
    )
    if done.stopped:
        raise InputError(
            f"sending stopped: {done.stopped}", hint="run it again once SES accepts mail"
        )


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
    print(form_html(settings.lang, public, action=f"{settings.public_url}/subscribe"))


def register(app: typer.Typer) -> None:
    app.add_typer(signups_app, name="signups")
    app.command("form")(form)
