"""Imports from the tools people leave: one module per tool's export (Mailchimp, Substack,
Ghost, listmonk), each turning that tool's columns into `Row`s that say who is subscribed
and who is suppressed, with the opt-in time for the consent record. This module recognises
a file's format from its header (or takes `--from`), and opens a zip (Mailchimp's audience
export) as the CSVs it holds. A plain `email,name,...` file, CSV or JSON Lines, is read by
`listfile.py` as before.
"""

from __future__ import annotations

import zipfile
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pipeline.audience.listfile import KNOWN_HINT, BadRow, ListFile, Row, listed
from pipeline.audience.sources import ghost, listmonk, mailchimp, substack, zipped
from pipeline.audience.sources.base import Context, Skipped, Source
from pipeline.audience.sources.zipped import ZipLimits
from pipeline.errors import InputError, NotFoundError
from pipeline.text import cut, printable

__all__ = ["FORMATS", "TITLES", "Part", "Parts", "Skipped", "ZipLimits", "open_parts"]

# The most particular header first: listmonk's also has `email`, Ghost's may have `name`.
SOURCES: tuple[Source, ...] = (listmonk.SOURCE, mailchimp.SOURCE, ghost.SOURCE, substack.SOURCE)
FORMATS = ("mailchimp", "substack", "ghost", "listmonk", "plain")  # what --from takes
TITLES = {**{s.name: s.title for s in SOURCES}, "plain": "plain list file"}
_BY_NAME = {s.name: s for s in SOURCES}


@dataclass
class Part:
    """One file of an import (a zip has several): what it is, and its rows."""

    where: str  # for messages: the path, or zip/member
    file_name: str  # for the consent record
    format: str
    kind: str | None  # Mailchimp's subscribed / unsubscribed / cleaned / nonsubscribed
    rows: Iterator[Row | BadRow | Skipped]
    listfile: ListFile


def detect(header: list[str], where: str) -> str:
    """The format a CSV header belongs to; InputError naming the known ones if none."""
    columns = frozenset(h.lower() for h in header)
    for source in SOURCES:
        if source.recognises(columns):
            return source.name
    if "email" in columns:
        return "plain"
    raise InputError(
        f"{where}: no email column, and not an export this recognises "
        f"(the header has: {listed([h.lower() for h in header])})",
        hint=KNOWN_HINT,
    )


def _check_forced(name: str, header: list[str], where: str) -> None:
    source = _BY_NAME.get(name)
    if source is None:
        return  # plain: listfile checks its columns
    missing = [c for c in source.required if c not in {h.lower() for h in header}]
    if missing:
        raise InputError(
            f"{where}: --from {name} needs the columns {', '.join(source.required)}; "
            f"missing {', '.join(missing)} (the header has: {listed(header)})",
            hint="drop --from to let the header decide, or name the right tool",
        )


def _part(listfile: ListFile, file_name: str, forced: str | None, now: datetime) -> Part:
    if listfile.jsonl:
        if forced not in (None, "plain"):
            raise InputError(
                f"{listfile.where}: JSON Lines is read as a plain list file, not a {forced} export",
                hint="drop --from, or import the tool's CSV export",
            )
        return Part(listfile.where, file_name, "plain", None, _guarded(listfile), listfile)
    header = listfile.header()
    name = forced or detect(header, listfile.where)
    _check_forced(name, header, listfile.where)
    if name == "plain":
        return Part(listfile.where, file_name, "plain", None, _guarded(listfile), listfile)
    context = Context(listfile.where, file_name, now)
    mapper = _BY_NAME[name].reader(header, context)
    kind = mailchimp.describe(header, context) if name == "mailchimp" else None

    def rows() -> Iterator[Row | BadRow | Skipped]:
        for record in listfile.records():
            yield record if isinstance(record, BadRow) else mapper(*record)

    return Part(listfile.where, file_name, name, kind, _guarded(listfile, rows()), listfile)


def _guarded(
    listfile: ListFile, rows: Iterator[Row | BadRow | Skipped] | None = None
) -> Iterator[Row | BadRow | Skipped]:
    """The rows, with a zip's damage found while reading (a bad CRC, a cut-off file) as
    an InputError rather than a traceback."""
    try:
        yield from rows if rows is not None else listfile
    except (zipfile.BadZipFile, EOFError) as exc:
        raise InputError(
            f"{listfile.where}: the zip is damaged: {cut(printable(str(exc)), 120)}",
            hint="download the export again",
        ) from None


def _is_zip(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == b"PK\x03\x04"
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror}") from None


@dataclass
class Parts:
    """The files of an import: how many bytes they hold (for progress), and each one
    opened as it is reached and closed before the next, so a zip of thousands of files
    holds one open at a time."""

    size: int
    opened: Iterator[Part]


_ZIP_TROUBLE = (zipfile.BadZipFile, RuntimeError, NotImplementedError, EOFError)


def _zip_trouble(path: Path, exc: Exception) -> InputError:
    return InputError(
        f"{path}: cannot read the zip: {cut(printable(str(exc)), 120)}",
        hint="unzip it and import the CSVs, or download the export again",
    )


@contextmanager
def open_parts(
    path: Path,
    forced: str | None,
    now: datetime,
    *,
    limits: ZipLimits,
    encoding: str | None = None,
) -> Iterator[Parts]:
    """The parts of the file to import (closed again after the block). `encoding` is
    `--encoding` (see `encodings.py`); a zip is refused past its `limits`."""
    if forced is not None and forced not in FORMATS:
        raise InputError(f"--from {forced!r}: not a format this knows; use one of {FORMATS}")
    if not _is_zip(path):
        with ListFile(path, encoding=encoding) as listfile:
            yield Parts(listfile.size, iter([_part(listfile, path.name, forced, now)]))
        return
    try:
        archive = zipfile.ZipFile(path)
    except _ZIP_TROUBLE as exc:
        raise _zip_trouble(path, exc) from None
    with archive:
        try:
            found = zipped.members(archive, path, limits)
        except _ZIP_TROUBLE as exc:
            raise _zip_trouble(path, exc) from None
        opened = _zip_parts(archive, found, path, forced, now, encoding)
        try:
            yield Parts(sum(i.file_size for i in found), opened)
        finally:
            opened.close()


def _zip_parts(
    archive: zipfile.ZipFile,
    found: list[zipfile.ZipInfo],
    path: Path,
    forced: str | None,
    now: datetime,
    encoding: str | None,
) -> Generator[Part, None, None]:
    for info in found:
        shown = cut(printable(info.filename), 120)
        try:
            stream = archive.open(info)
        except _ZIP_TROUBLE as exc:
            raise _zip_trouble(path, exc) from None
        with ListFile(
            Path(info.filename),
            stream=stream,
            size=info.file_size,
            where=f"{path}/{shown}",
            encoding=encoding,
        ) as listfile:
            try:
                part = _part(listfile, f"{path.name}/{shown}", forced, now)
            except _ZIP_TROUBLE as exc:
                raise _zip_trouble(path, exc) from None
            yield part
