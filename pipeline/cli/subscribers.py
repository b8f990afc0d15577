"""Commands for the people on the lists: `newsletter subscribers ...`.

Parsing and printing only; the rules are in `subscribers.py`. Listings go to stdout,
what changed goes to stderr.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated

import typer

from pipeline.audience import selection
from pipeline.audience import subscribers as lib
from pipeline.cli import kit
from pipeline.db import Store
from pipeline.errors import InputError
from pipeline.output import Format, emit_object, emit_rows
from pipeline.text import visible

subscribers_app = typer.Typer(
    help="The people on your lists: add, import, export, unsubscribe, forget.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ListOption = Annotated[str, typer.Option("--list", "-l", help="The list's name.")]
EmailArg = Annotated[str, typer.Argument(help="The subscriber's email address.")]


class ExportFormat(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


def _say(message: str) -> None:  # also used by cli/lists.py
    # markup=False: addresses, list names and CSV text may contain [brackets]
    kit.err.print(message, highlight=False, markup=False)


@contextmanager
def _store(ctx: typer.Context) -> Iterator[Store]:
    with Store.open(kit.settings(ctx).database_url) as store:
        yield store


def _report(outcome: lib.Outcome) -> None:
    _say(outcome.message)


def _visible(value: object) -> object:
    """Text for a terminal: control and invisible characters shown as escapes, so that a
    value stored before names were cleaned (or an attribute's line break) cannot move the
    cursor, recolour the screen or hide text. JSON output stays exact."""
    return visible(value) if isinstance(value, str) else value


def _when(moment: datetime | None) -> str:
    """A timestamp short enough for a table (JSON output keeps the full ISO form)."""
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment else ""


# --- subscribers -------------------------------------------------------------------------


@subscribers_app.command("add")
def add(
    ctx: typer.Context,
    email: EmailArg,
    list_name: ListOption,
    name: Annotated[str | None, typer.Option("--name", help="Their name.")] = None,
) -> None:
    """Subscribe one person to a list. Refuses anyone who unsubscribed, bounced, complained
    or was forgotten: see `resubscribe`."""
    with _store(ctx) as store:
        _report(lib.add(store, email, list_name, name=name))


@subscribers_app.command("export")
def export(
    ctx: typer.Context,
    list_name: ListOption,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write here instead of to stdout.")
    ] = None,
    fmt: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="csv, or jsonl (one JSON per line).")
    ] = ExportFormat.csv,
    excel: Annotated[
        bool,
        typer.Option(
            "--excel", help="CSV for Excel: UTF-8 with a BOM and CRLF, so names open correctly."
        ),
    ] = False,
) -> None:
    """Export the people who receive a list (email, name, attributes), in a form that
    `subscribers import` reads back. In CSV, a cell beginning with = + - @ (which a
    spreadsheet would run as a formula) gets a leading ', which import takes off again."""
    if excel and fmt is not ExportFormat.csv:
        raise InputError("--excel is for CSV", hint="drop --excel, or use --format csv")
    with _store(ctx) as store:
        if out is None:
            with _stdout_utf8() as handle:
                count = lib.export(store, list_name, handle, fmt.value, excel=excel)
        else:
            with _open_out(out) as handle:
                count = lib.export(store, list_name, handle, fmt.value, excel=excel)
    _say(f"exported {count} subscriber(s) of {list_name!r}" + (f" to {out}" if out else ""))


@contextmanager
def _stdout_utf8() -> Iterator[IO[str]]:
    """Standard output for a list file: UTF-8 whatever the terminal's locale (a list file
    is UTF-8, and a Korean name must not fail an export under LANG=C)."""
    buffer = getattr(sys.stdout, "buffer", None)
    if buffer is None:  # already a text stream of our own (tests, a redirect in-process)
        yield sys.stdout
        return
    sys.stdout.flush()
    # Buffered (flushed at the end): a write per row to the terminal's buffer cost more
    # than making the row (a million rows of `subscribers list`).
    handle = io.TextIOWrapper(buffer, encoding="utf-8", newline="")
    try:
        yield handle
    finally:
        handle.flush()
        handle.detach()  # leave sys.stdout's buffer open


@contextmanager
def _open_out(path: Path) -> Iterator[IO[str]]:
    # Write beside the target and rename at the end: a failed export never leaves half a file.
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as handle:
            yield handle
        partial.replace(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot write: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)


@subscribers_app.command("remove")
def remove(ctx: typer.Context, email: EmailArg, list_name: ListOption) -> None:
    """Take someone off a list (a correction; to record their choice, use unsubscribe)."""
    with _store(ctx) as store:
        _report(lib.remove(store, email, list_name))


@subscribers_app.command("unsubscribe")
def unsubscribe(
    ctx: typer.Context,
    email: Annotated[
        str | None, typer.Argument(help="The address (or give --token instead).")
    ] = None,
    list_name: Annotated[
        str | None,
        typer.Option("--list", "-l", help="Only this list (default: every list, for good)."),
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="The token from an unsubscribe link.")
    ] = None,
) -> None:
    """Unsubscribe someone from one list, or from everything; or act on a link's token."""
    if (email is None) == (token is None):
        raise InputError("give an email address or --token, not both or neither")
    if token is not None and list_name is not None:
        raise InputError("a token already names its list; drop --list")
    with _store(ctx) as store:
        if token is not None:
            secret = kit.settings(ctx).require_secret_key()
            _report(lib.unsubscribe_by_token(store, secret, token.rsplit("/", 1)[-1]))
        else:
            assert email is not None
            _report(lib.unsubscribe(store, email, list_name))


@subscribers_app.command("resubscribe")
def resubscribe(
    ctx: typer.Context,
    email: EmailArg,
    list_name: ListOption,
    force: Annotated[
        bool, typer.Option("--force", help="Also for a bounced or complained address.")
    ] = False,
) -> None:
    """Subscribe someone again after they unsubscribed or were forgotten: only on their
    explicit request."""
    with _store(ctx) as store:
        _report(lib.resubscribe(store, email, list_name, force=force))


@subscribers_app.command("show")
def show(ctx: typer.Context, email: EmailArg, fmt: kit.FormatOption = Format.table) -> None:
    """Everything about one person: status, attributes, lists and their unsubscribe links."""
    settings = kit.settings(ctx)
    secret = settings.signing_key()
    with _store(ctx) as store:
        record = lib.show(store, email, secret=secret, public_url=settings.public_url)
    if fmt is not Format.table:
        emit_object(record, fmt)
        return
    # Lines, not a table: a support person must be able to copy the whole unsubscribe URL.
    nested = ("lists", "history", "consents")
    scalars = {k: _visible(v) for k, v in record.items() if k not in nested}
    scalars["tags"] = _visible(", ".join(record["tags"])) if record["tags"] else "none"
    stamps = {k: _when(record[k]) for k in ("created_at", "updated_at")}
    emit_object({**scalars, **stamps}, fmt)
    print("lists:" if record["lists"] else "lists: none")
    for entry in record["lists"]:
        since = _when(entry["unsubscribed_at"] or entry["subscribed_at"])
        source = _visible(entry["source"] or "?")
        print(f"  {entry['name']}: {entry['status']} since {since} ({source})")
        if entry["unsubscribe_url"]:
            print(f"    unsubscribe link: {entry['unsubscribe_url']}")
    # The proof of consent: one line per record, as the person gave it.
    print("consent:" if record.get("consents") else "consent: none recorded")
    for entry in record.get("consents", []):
        how = _visible(entry["method"] + (f" ({entry['detail']})" if entry["detail"] else ""))
        where = " ".join(
            str(_visible(f"{label} {entry[key]}"))
            for label, key in (("from", "ip"), ("with", "user_agent"))
            if entry[key]
        )
        confirmed = f", confirmed {_when(entry['confirmed_at'])}" if entry["confirmed_at"] else ""
        waiting = "" if entry["confirmed_at"] else ", not confirmed"
        print(
            f"  {entry['list'] or '(no list)'}: {how} {_when(entry['requested_at'])}"
            f"{confirmed}{waiting}" + (f" {where}" if where else "")
        )
    print("history:" if record["history"] else "history: nothing sent yet")
    for entry in record["history"]:
        dry = " (dry run)" if entry["dry_run"] else ""
        detail = _when(entry["sent_at"]) if entry["status"] == "sent" else entry["error"] or ""
        detail = _visible(detail)
        print(f"  issue {entry['issue']} to {entry['list']}{dry}: {entry['status']} {detail}")
    if secret is None:
        _say("no unsubscribe links: NEWSLETTER_SECRET_KEY is not set")


WhereOption = Annotated[
    str | None,
    typer.Option(
        "--where",
        "-w",
        help="Only the people this filter matches, e.g. 'attr.city = \"Busan\" and tag:vip' "
        '(see the README\'s "Choosing readers").',
    ),
]


@subscribers_app.command("list")
def list_people(
    ctx: typer.Context,
    list_name: Annotated[
        str | None, typer.Option("--list", "-l", help="Only this list's members.")
    ] = None,
    where: WhereOption = None,
    status: Annotated[
        str | None,
        typer.Option(
            "--status",
            help="Only this status: active, unconfirmed, unsubscribed, bounced, complained.",
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N people.")] = None,
    fmt: kit.FormatOption = Format.table,
) -> None:
    """List people, in the order they arrived: everyone, a list's members, or those a
    filter matches. Streamed: `--format jsonl` of a million people takes little memory."""
    chosen = selection.parse_where(where)
    columns = ["email", "name", "status", *(["list_status"] if list_name else []), "joined"]
    columns += ["tags", "attributes"]
    with _store(ctx) as store:
        people = selection.people(
            store, list_name=list_name, where=chosen, status=status, limit=limit
        )
        if fmt is Format.table:
            shown = ({**p, "tags": ", ".join(p["tags"])} for p in people)
            emit_rows(shown, columns[:-1], fmt)
            return
        with _stdout_utf8() as handle:
            emit_rows(people, columns, fmt, out=handle)


TagsArg = Annotated[list[str], typer.Argument(help="Tag names (case does not matter).")]


@subscribers_app.command("tag")
def tag(ctx: typer.Context, email: EmailArg, names: TagsArg) -> None:
    """Give a person tags (`--where 'tag:NAME'` chooses them)."""
    with _store(ctx) as store:
        _report(lib.tag(store, email, names))


@subscribers_app.command("untag")
def untag(ctx: typer.Context, email: EmailArg, names: TagsArg) -> None:
    """Take tags off a person."""
    with _store(ctx) as store:
        _report(lib.untag(store, email, names))


@subscribers_app.command("forget")
def forget(ctx: typer.Context, email: EmailArg) -> None:
    """Delete everything about a person (a privacy request). A one-way hash of the address
    is kept so that it stays suppressed if it is imported again."""
    with _store(ctx) as store:
        _report(lib.forget(store, email))


def register(app: typer.Typer) -> None:
    app.add_typer(subscribers_app, name="subscribers")
