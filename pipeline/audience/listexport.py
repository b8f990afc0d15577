"""Writing a list file (an export) that `listfile.ListFile` reads back: CSV with cells a
spreadsheet would run as formulas escaped, or JSON Lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from typing import IO, Any

from pipeline.audience.listfile import RESERVED, ExportFormat, escape_cell


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return escape_cell(value)
    # numbers, lists... from a JSON Lines import (never NaN: the store holds none)
    return escape_cell(json.dumps(value, ensure_ascii=False, allow_nan=False))


class _LineFeedEnds:
    """The csv module quotes a cell holding a CR or an LF only if that character is in its
    line terminator, so with "\n" a cell holding a lone CR went out unquoted and split its
    row on import. Rows are written with CRLF (every such cell is quoted) and end in LF."""

    def __init__(self, out: IO[str]) -> None:
        self.out = out

    def write(self, row: str) -> int:
        return self.out.write(row[:-2] + "\n")  # csv writes each row in one call


def write_rows(
    out: IO[str],
    fmt: ExportFormat,
    records: Iterable[tuple[str, str | None, Mapping[str, Any]]],
    attribute_names: list[str],
    *,
    excel: bool = False,
) -> int:
    """Write (email, name, attributes) records in a form `ListFile` reads back; return how
    many. CSV needs every attribute name up front for its header. `excel`: a UTF-8 BOM and
    CRLF line ends, without which Excel reads UTF-8 as the local code page (mangling
    Korean names)."""
    count = 0
    if fmt == "jsonl":
        for email, name, attributes in records:
            record = {"email": email, "name": name, "attributes": dict(attributes)}
            out.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
            count += 1
        return count
    if excel:
        out.write("\ufeff")
    writer = csv.writer(out if excel else _LineFeedEnds(out), lineterminator="\r\n")
    writer.writerow([escape_cell(c) for c in (*RESERVED, *attribute_names)])
    for email, name, attributes in records:
        cells = [
            escape_cell(email),
            _cell(name),
            *(_cell(attributes.get(a)) for a in attribute_names),
        ]
        writer.writerow(cells)
        count += 1
    return count
