"""`newsletter subscribers import`: arguments, progress and printing (the import itself
is `audience.bulk`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from pipeline.audience import subscribers as lib
from pipeline.audience.sources import ZipLimits
from pipeline.cli import kit
from pipeline.cli.subscribers import ListOption, _say, _store, _visible
from pipeline.errors import InputError
from pipeline.output import Format, emit_object

BIG_FILE = 1_000_000  # bytes: show a progress bar above this, on a terminal
SHOW_SKIPPED = 20  # skipped rows listed one by one; beyond, only counted


class SourceFormat(StrEnum):
    mailchimp = "mailchimp"
    substack = "substack"
    ghost = "ghost"
    listmonk = "listmonk"
    plain = "plain"


def import_file(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Argument(
            help="A CSV or .jsonl list file, another tool's CSV export, or Mailchimp's zip."
        ),
    ],
    list_name: ListOption,
    source_format: Annotated[
        SourceFormat | None,
        typer.Option(
            "--from",
            help="The tool the file comes from (default: recognised from the header).",
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            "--encoding",
            help="The file's text encoding, e.g. cp949 for a CSV saved by Excel in Korea "
            "(default: UTF-8, or UTF-16 when the file begins with its byte order mark).",
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Write nothing if any row is invalid (exit 1).")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would happen; write nothing.")
    ] = False,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", help="Tag every person in the file (repeat for several)."),
    ] = None,
    fmt: kit.FormatOption = Format.table,
) -> None:
    """Import people into a list: a plain list file, or the export of the tool you leave.

    The format is recognised from the header row (--from forces one): Mailchimp's audience
    export (its subscribed, unsubscribed and cleaned CSVs, or the zip holding them),
    Substack's subscriber export, Ghost's members CSV, listmonk's subscriber export, or a
    plain file with an `email` column, an optional `name`, and attributes (comma, semicolon
    or tab separated; or JSON Lines). Files are read as UTF-8 (or UTF-16, with its byte
    order mark, as Excel's "Unicode text"); a file in another encoding is refused whole,
    naming the likely one for --encoding. First and last names are joined; a `tags` column
    (names separated by , or ;, or a JSON list), Mailchimp's TAGS and Ghost's labels become
    tags; other columns become attributes; the source's opt-in time becomes the consent
    record. People the source marks unsubscribed, cleaned (bounced), blocklisted or email-
    disabled arrive suppressed. People who unsubscribed, bounced, complained or were
    forgotten here stay suppressed. Invalid rows (a bad address, a bad date) are listed and
    skipped; a name with a line break or an invisible character is cleaned, and listed too.
    Importing the same file twice changes nothing the second time.
    """

    def on_invalid(row: lib.InvalidRow) -> None:
        _say(f"{row.file or file}:{row.line}: {row.reason}")

    def on_cleaned(row: lib.CleanedRow) -> None:
        _say(f"{row.file or file}:{row.line}: {row.what}")

    skipped = [0]

    def on_skipped(row: lib.InvalidRow) -> None:
        # a whole file can be skipped (Mailchimp's non-subscribed contacts): a few lines
        # say why, the count says how many
        skipped[0] += 1
        if skipped[0] <= SHOW_SKIPPED:
            _say(f"{row.file or file}:{row.line}: skipped: {row.reason}")
        elif skipped[0] == SHOW_SKIPPED + 1:
            _say("... more rows skipped (--format json lists them)")

    with _store(ctx) as store, _progress(file) as progress:
        report = lib.import_csv(
            store,
            file,
            list_name,
            source=source_format.value if source_format else None,
            encoding=encoding,
            zip_limits=ZipLimits.of(kit.settings(ctx)),
            strict=strict,
            dry_run=dry_run,
            progress=progress,
            on_invalid=on_invalid,
            on_cleaned=on_cleaned,
            on_skipped=on_skipped,
            tags=tuple(tag or ()),
        )
    if fmt is not Format.table:
        emit_object(report.as_dict(), fmt)
    _say(_recognised(report))
    _say(_summary(report, dry_run=dry_run))
    if strict and report.invalid:
        raise InputError(
            f"{report.invalid} invalid row(s); nothing imported (--strict)",
            hint="fix the rows listed above, or import without --strict to skip them",
        )


def _recognised(report: lib.ImportReport) -> str:
    """Which format was read, and for a zip or a Mailchimp file, what each file held."""
    if len(report.files) == 1:
        kind = report.files[0]["kind"]
        return f"recognised: {report.format_title}" + (f" ({kind} members)" if kind else "")
    files = [
        f"{_visible(f['file'].rsplit('/', 1)[-1])} ({f['kind'] or f['format']})"
        for f in report.files
    ]
    return f"recognised: {report.format_title}, {len(files)} files: {', '.join(files)}"


def _summary(report: lib.ImportReport, *, dry_run: bool) -> str:
    arrived = report.arrived_suppressed
    counts = (
        f"{report.added} added"
        + (f" ({report.confirmed} confirming a pending signup)" if report.confirmed else "")
        + f", {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.duplicates} duplicate(s) in the file, {report.suppressed} kept suppressed, "
        f"{report.cleaned} cleaned, {report.invalid} invalid"
    )
    if report.format != "plain":
        counts += (
            f"; marked in the source and arrived suppressed: {arrived['unsubscribed']} "
            f"unsubscribed, {arrived['bounced']} bounced (cleaned), {arrived['blocklisted']} "
            f"blocklisted; {report.newer_here} kept (subscribed here after leaving the "
            f"source); {report.skipped} skipped; {report.consents} consent record(s)"
        )
    if dry_run:
        return f"dry run, nothing written: {counts}"
    if not report.written:
        return f"nothing written (--strict): {counts}"
    return f"imported {report.path} into {report.list_name!r}: {counts}"


@contextmanager
def _progress(file: Path) -> Iterator[lib.ProgressCallback | None]:
    size = file.stat().st_size if file.is_file() else 0
    if not kit.err.is_terminal or size < BIG_FILE:
        yield None
        return
    columns = (TextColumn("importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=kit.err, transient=True) as bar:
        task = bar.add_task("import", total=size)
        yield lambda done, total: bar.update(task, completed=done, total=total)


def register(group: typer.Typer) -> None:
    group.command("import")(import_file)
