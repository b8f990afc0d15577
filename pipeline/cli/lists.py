"""Commands for the publisher's lists: `newsletter lists ...`. Parsing and printing only."""

from __future__ import annotations

from typing import Annotated

import typer

from pipeline.audience import subscribers as lib
from pipeline.cli import kit
from pipeline.cli.subscribers import _report, _say, _store
from pipeline.output import Format, emit_rows

lists_app = typer.Typer(
    help="Mailing lists: `newsletter lists` shows them with counts per status.",
    no_args_is_help=False,
    rich_markup_mode=None,
)

LIST_COLUMNS = [
    "name",
    "public",
    "subscribed",
    "unconfirmed",
    "unsubscribed",
    "bounced",
    "complained",
    "total",
]


@lists_app.callback(invoke_without_command=True)
def lists_show(ctx: typer.Context, fmt: kit.FormatOption = Format.table) -> None:
    """Show the lists with their members counted by status (`subscribed` ones receive mail;
    `unconfirmed` signed up on the form and have not confirmed: they get nothing)."""
    if ctx.invoked_subcommand is not None:
        return
    with _store(ctx) as store:
        rows = lib.list_summaries(store)
    if fmt is Format.table:
        if not rows:
            _say("no lists yet; `newsletter lists create NAME` makes one")
            return
        emit_rows(rows, LIST_COLUMNS, fmt, title="Lists")  # fits 80 columns
        return
    emit_rows(rows, [*LIST_COLUMNS, "title", "description", "created_at"], fmt)


@lists_app.command("create")
def lists_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The new list's name, e.g. weekly.")],
    exist_ok: Annotated[
        bool, typer.Option("--exist-ok", help="Succeed quietly if the list already exists.")
    ] = False,
    public: Annotated[
        bool, typer.Option("--public", help="Offer it on the signup form (GET /subscribe).")
    ] = False,
    description: Annotated[
        str | None,
        typer.Option("--description", help="What the signup form says under its name."),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option("--title", help="What readers see instead of the name, e.g. 'Weekly digest'."),
    ] = None,
) -> None:
    """Create an empty list (--public: readers may join it on the signup form)."""
    with _store(ctx) as store:
        _report(
            lib.create_list(
                store, name, exist_ok=exist_ok, public=public, description=description, title=title
            )
        )


@lists_app.command("update")
def lists_update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The list to change.")],
    public: Annotated[
        bool | None,
        typer.Option(
            "--public/--private",
            help="Offer it on the signup form, or take it off.",
            show_default=False,
        ),
    ] = None,
    description: Annotated[
        str | None,
        typer.Option(
            "--description", help="What the signup form says under its name ('' removes it)."
        ),
    ] = None,
    title: Annotated[
        str | None,
        typer.Option("--title", help="What readers see instead of the name ('' removes it)."),
    ] = None,
) -> None:
    """Offer a list on the signup form or not, or change its title or description."""
    with _store(ctx) as store:
        _report(lib.update_list(store, name, public=public, description=description, title=title))


@lists_app.command("delete")
def lists_delete(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The list to delete.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Delete even if campaigns were sent to it; cancels its schedules."
        ),
    ] = False,
) -> None:
    """Delete a list and its memberships (the subscribers stay). Refuses a list with sent
    campaigns or schedules still to send unless --force (which cancels the schedules)."""
    with _store(ctx) as store:
        _report(lib.delete_list(store, name, force=force))


def register(app: typer.Typer) -> None:
    app.add_typer(lists_app, name="lists")
