"""Reading subscriber list files: CSV the way real exports look, and JSON Lines (writing
them is `listexport.py`).

Only the file format is handled here (encodings, delimiters, headers, line numbers); what a
row means for the database is decided in `bulk.py`, and what the columns of another tool's
export mean in `sources/`. Rows are produced one at a time so a file of any size is read
in constant memory.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Literal

from pipeline.audience import encodings
from pipeline.audience.cleaning import attribute_name_problem, shown
from pipeline.audience.strictjson import DuplicateKey, NotFinite
from pipeline.audience.strictjson import loads as strict_json
from pipeline.errors import InputError, NotFoundError

ExportFormat = Literal["csv", "jsonl"]
RESERVED = ("email", "name")
_DELIMITERS = (",", ";", "\t")
# Far above any real list file (a row is well under 1 KB), so that a file that is not one
# (a binary, a log, a runaway quote) is refused with a message instead of filling memory.
MAX_LINE = 1_000_000  # characters in one physical line
MAX_COLUMNS = 1000
_QUOTED = re.compile(r'"(?:[^"]|"")*"')
# OWASP's "CSV injection": a spreadsheet runs a cell that begins with one of = + - @ tab CR
# as a formula. Export puts a ' before such a cell (and before one that already begins with
# quotes and then one of those, so that the escape can be told from data); import takes
# exactly one ' off such a cell. So export -> import gives back every cell as it was.
_NEEDS_ESCAPE = re.compile(r"'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"'+[=+\-@\t\r]")


def escape_cell(cell: str) -> str:
    return "'" + cell if _NEEDS_ESCAPE.match(cell) else cell


def unescape_cell(cell: str) -> str:
    return cell[1:] if cell[:1] == "'" and _ESCAPED.match(cell) else cell


# What the source says of a person: subscribed, or suppressed and how. A plain file only
# ever says "subscribed"; the exports of other tools say more (see `sources/`).
Standing = Literal["subscribed", "unsubscribed", "bounced", "blocklisted"]


@dataclass(frozen=True, slots=True)
class Row:
    """One record: the address as written (trimmed), the name, every other column; and,
    from another tool's export, what it says of the person: their standing, when they
    opted in (`requested_at`) and confirmed, from which IP, and when they left or bounced
    (`left_at`)."""

    line: int
    email: str
    name: str | None
    attributes: dict[str, Any]
    standing: Standing = "subscribed"
    requested_at: datetime | None = None
    confirmed_at: datetime | None = None
    ip: str | None = None
    left_at: datetime | None = None
    # Cells of a suppressing row left out as unreadable, each with why (`OptionalCells`).
    dropped: tuple[str, ...] = ()
    # Clean tags, taken out of the `tags` attribute by the import (`bulk._cleaned`).
    tags: tuple[str, ...] = ()


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


def _raw_header(header: list[str], where: str) -> list[str]:
    """The header's cells as written (trimmed), after the checks every format shares."""
    if len(header) > MAX_COLUMNS:
        raise InputError(
            f"{where}: the header has {len(header):,} columns; at most {MAX_COLUMNS:,} are read",
            hint="is this a list file? The first line must name the columns",
        )
    return [unescape_cell(h.strip()).strip() for h in header]


def check_columns(names: list[str], where: str, reserved: Iterable[str] = RESERVED) -> None:
    """Refuse a header with an unnamed, unusable or repeated column (names lowercased)."""
    allowed = set(reserved)
    for index, name in enumerate(names, 1):
        if not name:
            raise InputError(
                f"{where}: column {index} of the header has no name",
                hint="name every column, or delete the empty one",
            )
        problem = None if name in allowed else attribute_name_problem(name)
        if problem:
            raise InputError(
                f"{where}: column {index} of the header, {shown(name)}, {problem}",
                hint="rename the column",
            )
    duplicates = sorted(n for n, count in Counter(names).items() if count > 1)
    if duplicates:
        raise InputError(f"{where}: the header repeats {', '.join(duplicates)}")


def listed(names: list[str]) -> str:
    """The first columns of a header, for a message."""
    return ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")


def _column_names(header: list[str], where: str) -> list[str]:
    """The columns of a plain list file: `email`, perhaps `name`, attributes."""
    names = [h.lower() for h in header]
    check_columns(names, where)
    if "email" not in names:
        raise InputError(
            f"{where}: no email column, and not an export this recognises "
            f"(the header has: {listed(names)})",
            hint=KNOWN_HINT,
        )
    return names


# Kept here, beside the message that needs it, so listfile does not import sources/.
KNOWN_HINT = (
    "recognised: Mailchimp (Email Address, OPTIN_TIME, ...), Substack (email, "
    "email_disabled, ...), Ghost (email, subscribed_to_emails, ...), listmonk (uuid, email, "
    "attributes, status, ...), plain (email, name, ...); --from NAME picks one"
)


class ListFile:
    """An open list file, or one file of a zip (`stream`, named `where` in messages).
    Iterate it for the `Row`s and `BadRow`s of a plain file; or read `header()` and then
    `records()` for another tool's export. `bytes_read` / `size` tell how far along it is
    (for a progress bar). `encoding` is `--encoding`; see `encodings.py`."""

    def __init__(
        self,
        path: Path,
        *,
        stream: IO[bytes] | None = None,
        size: int | None = None,
        where: str | None = None,
        encoding: str | None = None,
    ) -> None:
        self.path = path
        self.where = where or str(path)
        if stream is not None:
            self._raw = stream
        else:
            try:
                self._raw = path.open("rb")
            except FileNotFoundError:
                raise NotFoundError(f"{path}: no such file") from None
            except OSError as exc:
                raise InputError(f"{path}: cannot read: {exc.strerror}") from None
        self.size = path.stat().st_size if size is None else size
        try:
            self.encoding = encodings.resolve(_peek(self._raw), encoding, self.where)
        except InputError:
            self._raw.close()
            raise
        # The codec drops a BOM; newline="" keeps quoted line breaks for the csv module.
        self._text = io.TextIOWrapper(
            self._raw, encoding=self.encoding, errors="surrogateescape", newline=""
        )
        self._header: list[str] | None = None
        self._reader: Any = None
        self._skipped = 0

    @property
    def jsonl(self) -> bool:
        return self.path.suffix.lower() in (".jsonl", ".ndjson")

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
        return self._jsonl() if self.jsonl else self._csv()

    def _lines(self) -> Iterator[str]:
        """The file's physical lines, each at most MAX_LINE characters and all of it in the
        file's encoding (or InputError: the whole file is refused, see `encodings.py`)."""
        number = 0
        while True:
            try:
                line = self._text.readline(MAX_LINE + 1)
            except UnicodeDecodeError as exc:  # e.g. a UTF-16 file cut at an odd byte
                raise encodings.not_decodable(
                    self.where, number + 1, exc.object[exc.start : exc.end], self.encoding
                ) from None
            if not line:
                return
            number += 1
            if len(line) > MAX_LINE and not line.endswith(("\n", "\r")):
                raise InputError(
                    f"{self.where}:{number}: a line longer than {MAX_LINE:,} characters",
                    hint='is this a list file? Or look for an unclosed quote (") above it',
                )
            if encodings.UNDECODABLE.search(line):
                raw = line.encode(self.encoding, "surrogateescape")
                raise encodings.not_decodable(self.where, number, raw, self.encoding)
            yield line

    def header(self) -> list[str]:
        """The CSV's column names as written (trimmed, BOM and Excel's `sep=` line gone)."""
        if self._header is not None:
            return self._header
        lines = self._lines()
        skipped = 0
        header_line = next(lines, "")
        while header_line and not header_line.strip():
            skipped, header_line = skipped + 1, next(lines, "")
        delimiter = None
        if len(header_line.strip()) == 5 and header_line.lower().startswith("sep="):
            # Excel's hint line ("sep=;") before the header
            delimiter, skipped, header_line = header_line[4], skipped + 1, next(lines, "")
        if self.encoding == "utf-8-sig":
            encodings.looks_like_utf16(header_line, self.where)
        if not header_line.strip():
            raise InputError(
                f"{self.where}: the file is empty",
                hint="the first line must be a header naming the columns, one of them 'email'",
            )
        self._reader = csv.reader(
            _chain(header_line, lines),
            delimiter=delimiter or _sniff_delimiter(header_line),
            skipinitialspace=True,
        )
        self._skipped = skipped
        self._header = _raw_header(next(self._reader), f"{self.where}:{skipped + 1}")
        return self._header

    def records(self) -> Iterator[tuple[int, list[str]] | BadRow]:
        """After the header: each record's line number and its cells (trimmed, a
        spreadsheet escape taken off), or a BadRow for one of the wrong shape."""
        width = len(self.header())
        reader, skipped = self._reader, self._skipped
        line = skipped + reader.line_num + 1  # where the next record starts
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:  # e.g. a runaway quote swallowing the rest of the file
                raise InputError(
                    f"{self.where}:{line}: cannot read the CSV: {exc}",
                    hint='look for an unclosed quote (") at or after this line'
                    + (
                        f"; no real cell holds more than {csv.field_size_limit():,} characters"
                        if "field limit" in str(exc)
                        else ""
                    ),
                ) from None
            start, line = line, skipped + reader.line_num + 1
            if not any(f.strip() for f in fields):
                continue  # a blank line, or only delimiters
            if len(fields) != width:
                yield BadRow(start, f"expected {width} fields, found {len(fields)}")
            else:
                yield start, [unescape_cell(f.strip()).strip() for f in fields]

    def _csv(self) -> Iterator[Row | BadRow]:
        names = _column_names(self.header(), f"{self.where}:{self._skipped + 1}")
        email_at = names.index("email")
        name_at = names.index("name") if "name" in names else None
        extra = [(i, n) for i, n in enumerate(names) if n not in RESERVED]
        for record in self.records():
            if isinstance(record, BadRow):
                yield record
                continue
            line, cells = record
            name = cells[name_at] if name_at is not None else ""
            attributes = {n: v for i, n in extra if (v := cells[i])}
            yield Row(line, cells[email_at], name or None, attributes)

    def _jsonl(self) -> Iterator[Row | BadRow]:
        for number, text in enumerate(self._lines(), 1):
            if not text.strip():
                continue
            try:
                record = strict_json(text)
            except json.JSONDecodeError as exc:
                yield BadRow(number, f"not valid JSON: {exc.msg}")
                continue
            except NotFinite as exc:
                yield BadRow(number, f"{exc}: only finite numbers are allowed")
                continue
            except DuplicateKey as exc:
                yield BadRow(number, str(exc))
                continue
            except ValueError as exc:  # an integer of more than 4,300 digits
                # (without Python's advice to call sys.set_int_max_str_digits)
                yield BadRow(number, f"not usable JSON: {str(exc).split(';')[0]}")
                continue
            except RecursionError:
                yield BadRow(number, "not usable JSON: nested too deeply")
                continue
            if not isinstance(record, dict):
                yield BadRow(number, "not a JSON object")
                continue
            yield _record_row(number, record)


def _record_row(number: int, record: dict[str, Any]) -> Row | BadRow:
    """One JSON Lines object as a row: email, name and attributes (nested or top-level)."""
    fields = {k.strip().lower(): v for k, v in record.items()}
    nested = fields.pop("attributes", None)
    email, name = fields.pop("email", None), fields.pop("name", None)
    if not isinstance(email, str | None) or not isinstance(name, str | None):
        return BadRow(number, "email and name must be strings")
    if not isinstance(nested, dict | None):
        return BadRow(number, "attributes must be a JSON object")
    inner = {k.strip().lower(): v for k, v in (nested or {}).items()}
    names = Counter([k.strip().lower() for k in record])
    names.update(k for k in inner if k not in RESERVED)
    repeated = sorted(k for k, n in names.items() if n > 1)
    if repeated:  # `Plan` and `plan` are one column: which value is meant?
        return BadRow(number, f"keys repeat, ignoring case: {', '.join(repeated)[:200]}")
    attributes = {
        k: v.strip() if isinstance(v, str) else v
        for k, v in {**inner, **fields}.items()
        if v not in ("", None) and k not in RESERVED
    }
    return Row(number, (email or "").strip(), (name or "").strip() or None, attributes)


def _peek(raw: IO[bytes]) -> bytes:
    """The first bytes of a stream, left unread (a BOM is at most 3 bytes)."""
    peek = getattr(raw, "peek", None)
    return peek(4)[:4] if peek is not None else b""


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest
