"""Reading and writing subscriber list files: CSV the way real exports look, and JSON Lines.

Only the file format is handled here (encodings, delimiters, headers, line numbers); what a
row means for the database is decided in `subscribers.py`. Rows are produced one at a
time so a file of any size is read in constant memory.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from pipeline.errors import InputError, NotFoundError

ExportFormat = Literal["csv", "jsonl"]
RESERVED = ("email", "name")
_DELIMITERS = (",", ";", "\t")
_QUOTED = re.compile(r'"(?:[^"]|"")*"')


@dataclass(frozen=True, slots=True)
class Row:
    """One record: the address as written (trimmed), the name, every other column."""

    line: int
    email: str
    name: str | None
    attributes: dict[str, Any]


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    reason: str


def _sniff_delimiter(header: str) -> str:
    # The header line alone decides: it is the one line every export has, and counting
    # candidates outside quotes is predictable where csv.Sniffer guesses.
    bare = _QUOTED.sub("", header)
    best = max(_DELIMITERS, key=bare.count)
    return best if bare.count(best) else ","


def _is_utf8(fields: Iterable[str]) -> bool:
    # Undecodable bytes arrive as lone surrogates (errors="surrogateescape").
    try:
        "".join(fields).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _column_names(header: list[str], where: str) -> list[str]:
    if not _is_utf8(header):
        raise InputError(f"{where}: the header is not valid UTF-8", hint="save the file as UTF-8")
    names = [h.strip().lower() for h in header]
    for index, name in enumerate(names, 1):
        if not name:
            raise InputError(
                f"{where}: column {index} of the header has no name",
                hint="name every column, or delete the empty one",
            )
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise InputError(f"{where}: the header repeats {', '.join(duplicates)}")
    if "email" not in names:
        raise InputError(
            f"{where}: no email column (the header has: {', '.join(names)})",
            hint="the first line must name the columns, one of them 'email'",
        )
    return names


class ListFile:
    """An open list file. Iterate it for `Row`s and `BadRow`s; `bytes_read` / `size` tell
    how far along it is (for a progress bar)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._raw = path.open("rb")
        except FileNotFoundError:
            raise NotFoundError(f"{path}: no such file") from None
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror}") from None
        self.size = path.stat().st_size
        # utf-8-sig drops a BOM; newline="" keeps quoted line breaks for the csv module.
        self._text = io.TextIOWrapper(
            self._raw, encoding="utf-8-sig", errors="surrogateescape", newline=""
        )

    @property
    def bytes_read(self) -> int:
        return self._raw.tell()

    def __enter__(self) -> ListFile:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._text.close()

    def __iter__(self) -> Iterator[Row | BadRow]:
        jsonl = self.path.suffix.lower() in (".jsonl", ".ndjson")
        return self._jsonl() if jsonl else self._csv()

    def _csv(self) -> Iterator[Row | BadRow]:
        skipped = 0
        header_line = self._text.readline()
        while header_line and not header_line.strip():
            skipped, header_line = skipped + 1, self._text.readline()
        delimiter = None
        if len(header_line.strip()) == 5 and header_line.lower().startswith("sep="):
            # Excel's hint line ("sep=;") before the header
            delimiter, skipped, header_line = header_line[4], skipped + 1, self._text.readline()
        if not header_line.strip():
            raise InputError(
                f"{self.path}: the file is empty",
                hint="the first line must be a header naming the columns, one of them 'email'",
            )
        reader = csv.reader(
            _chain(header_line, self._text),
            delimiter=delimiter or _sniff_delimiter(header_line),
            skipinitialspace=True,
        )
        names = _column_names(next(reader), f"{self.path}:{skipped + 1}")
        email_at = names.index("email")
        name_at = names.index("name") if "name" in names else None
        extra = [(i, n) for i, n in enumerate(names) if n not in RESERVED]
        line = skipped + reader.line_num + 1  # where the next record starts
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a runaway quote swallowing the rest of the file
                raise InputError(
                    f"{self.path}:{line}: cannot read the CSV: {exc}",
                    hint='look for an unclosed quote (") at or after this line',
                ) from None
            start, line = line, skipped + reader.line_num + 1
            if not any(f.strip() for f in fields):
                continue  # a blank line, or only delimiters
            if len(fields) != len(names):
                yield BadRow(start, f"expected {len(names)} fields, found {len(fields)}")
            elif not _is_utf8(fields):
                yield BadRow(start, "not valid UTF-8 text")
            else:
                name = fields[name_at].strip() if name_at is not None else ""
                attributes = {n: v for i, n in extra if (v := fields[i].strip())}
                yield Row(start, fields[email_at].strip(), name or None, attributes)

    def _jsonl(self) -> Iterator[Row | BadRow]:
        for number, text in enumerate(self._text, 1):
            if not text.strip():
                continue
            if not _is_utf8([text]):
                yield BadRow(number, "not valid UTF-8 text")
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                yield BadRow(number, f"not valid JSON: {exc.msg}")
                continue
            if not isinstance(record, dict):
                yield BadRow(number, "not a JSON object")
                continue
            record = {str(k).strip().lower(): v for k, v in record.items()}
            nested = record.pop("attributes", None)
            email, name = record.pop("email", None), record.pop("name", None)
            if not isinstance(email, str | None) or not isinstance(name, str | None):
                yield BadRow(number, "email and name must be strings")
                continue
            if not isinstance(nested, dict | None):
                yield BadRow(number, "attributes must be a JSON object")
                continue
            merged = {**(nested or {}), **record}
            attributes = {
                str(k).strip().lower(): v.strip() if isinstance(v, str) else v
                for k, v in merged.items()
                if v not in ("", None) and str(k).strip().lower() not in RESERVED
            }
            yield Row(number, (email or "").strip(), (name or "").strip() or None, attributes)


def _chain(first: str, rest: IO[str]) -> Iterator[str]:
    yield first
    yield from rest


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)  # numbers, lists... from a JSON Lines import


def write_rows(
    out: IO[str],
    fmt: ExportFormat,
    records: Iterable[tuple[str, str | None, Mapping[str, Any]]],
    attribute_names: list[str],
) -> int:
    """Write (email, name, attributes) records in a form `ListFile` reads back; return how
    many. CSV needs every attribute name up front for its header."""
    count = 0
    if fmt == "jsonl":
        for email, name, attributes in records:
            record = {"email": email, "name": name, "attributes": dict(attributes)}
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
        return count
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*RESERVED, *attribute_names])
    for email, name, attributes in records:
        writer.writerow([email, name or "", *(_cell(attributes.get(a)) for a in attribute_names)])
        count += 1
    return count
