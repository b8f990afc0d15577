"""Commands for segments, `newsletter segments ...`, and the options that choose readers
for `send`, `schedule` and `send-test` (--segment, --where, --skip-inactive)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from pipeline.audience import segments, selection
from pipeline.cli import kit
from pipeline.db import Store
from pipeline.delivery.sendlog import Campaign
from pipeline.output import Format, emit_object, emit_rows

segments_app = typer.Typer(
    help="Segments: a filter saved under a name, to send to a part of a list.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

SegmentOption = Annotated[
    str | None,
    typer.Option("--segment", help="Only the list's members a saved segment chooses."),
]
WhereOption = Annotated[
    str | None,
    typer.Option(
        "--where", "-w", help="Only the list's members this filter matches (see the README)."
    ),
]
SkipInactiveOption = Annotated[
    int,
    typer.Option(
        "--skip-inactive",
        metavar="N",
        help="Leave out readers who received each of the list's last N issues and opened "
        "and clicked none.",
    ),
]


def audience_of(campaign: Campaign) -> segments.Audience:
    """A campaign's audience, from what it stored."""
    where, _, inactive = campaign.audience.partition(" | ")
    if where.startswith("skip inactive "):
        where, inactive = "", where
    skip = int(inactive.rsplit(" ", 1)[-1]) if inactive else 0
    return segments.Audience(selection.parse_where(where or None), campaign.segment, skip)


def audience_shown(campaign: Campaign) -> str:
    """A campaign's audience, as `log` and `report` show it."""
    if not campaign.audience:
        return "whole list"
    shown = audience_of(campaign).described()
    if campaign.skipped_inactive:
        shown += f" ({campaign.skipped_inactive:,} left out)"
    return shown


@contextmanager
def _store(ctx: typer.Context) -> Iterator[Store]:
    with Store.open(kit.settings(ctx).database_url) as store:
        yield store


def _say(message: str) -> None:
    kit.err.print(message, highlight=False, markup=False)


NameArg = Annotated[str, typer.Argument(help="The segment's name.")]
RequiredWhere = Annotated[
    str, typer.Option("--where", "-w", help="The filter, e.g. 'tag:vip and attr.city = \"Busan\"'.")
]


@segments_app.command("create")
def create(
    ctx: typer.Context,
    name: NameArg,
    list_name: Annotated[str, typer.Option("--list", "-l", help="The list it chooses from.")],
    where: RequiredWhere,
) -> None:
    """Save a filter under a name, for one list."""
    with _store(ctx) as store:
        _say(segments.create(store, name, list_name, where).message)


@segments_app.command("update")
def update(ctx: typer.Context, name: NameArg, where: RequiredWhere) -> None:
    """Change a segment's filter (campaigns already sent keep the one they went out with)."""
    with _store(ctx) as store:
        _say(segments.update(store, name, where).message)


@segments_app.command("list")
def list_segments(ctx: typer.Context, fmt: kit.FormatOption = Format.table) -> None:
    """Every segment: its list and its filter."""
    with _store(ctx) as store:
        rows = [
            {"name": s.name, "list": s.list_name, "where": s.expression}
            for s in segments.all_segments(store)
        ]
    emit_rows(rows, ["name", "list", "where"], fmt, title="Segments")


@segments_app.command("show")
def show(ctx: typer.Context, name: NameArg, fmt: kit.FormatOption = Format.table) -> None:
    """A segment's filter, how many of its list's active subscribers it matches now, and
    a sample of them."""
    with _store(ctx) as store:
        record = segments.show(store, name)
    if fmt is not Format.table:
        emit_object(record, fmt)
        return
    emit_object({k: v for k, v in record.items() if k != "sample"}, fmt)
    print("sample:" if record["sample"] else "sample: nobody matches")
    for email in record["sample"]:
        print(f"  {email}")


@segments_app.command("delete")
def delete(ctx: typer.Context, name: NameArg) -> None:
    """Delete a segment (campaigns sent to it keep its filter)."""
    with _store(ctx) as store:
        _say(segments.delete(store, name).message)


def register(app: typer.Typer) -> None:
    app.add_typer(segments_app, name="segments")
