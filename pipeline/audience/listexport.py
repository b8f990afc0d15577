"""Writing a list file (an export) that `listfile.ListFile` reads back: CSV with cells a
spreadsheet would run as formulas escaped, or JSON Lines."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from typing import IO, Any

from pipeline.audience.listfile import RESERVED, ExportFormat, escape_cell
from pipeline.audience.tags import TAGS_COLUMN

# email, name, attributes, tags
ExportRecord = tuple[str, str | None, Mapping[str, Any], list[str]]


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
    records: Iterable[ExportRecord],
    attribute_names: list[str],
    *,
    tags: bool = True,
    excel: bool = False,
) -> int:
    """Write (email, name, attributes, tags) records in a form `ListFile` reads back;
    return how many. CSV needs every attribute name up front for its header; its tags are
    one cell, separated by commas, in a `tags` column if `tags` (a list without tags
    exports as before tags existed); JSON Lines has a `tags` list where a person has tags.
    `excel`: a UTF-8 BOM and CRLF line ends, without which Excel reads UTF-8 as the local
    code page (mangling Korean names)."""
    count = 0
    if fmt == "jsonl":
        for email, name, attributes, names in records:
            record: dict[str, Any] = {"email": email, "name": name}
            record["attributes"] = dict(attributes)
            if names:
                record["tags"] = names
            out.write(json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n")
            count += 1
        return count
    if excel:
        out.write("\ufeff")
    writer = csv.writer(out if excel else _LineFeedEnds(out), lineterminator="\r\n")
    header = (*RESERVED, *((TAGS_COLUMN,) if tags else ()), *attribute_names)
    writer.writerow([escape_cell(c) for c in header])
    for email, name, attributes, names in records:
        cells = [
            escape_cell(email),
            _cell(name),
            *((_cell(",".join(names)),) if tags else ()),
            *(_cell(attributes.get(a)) for a in attribute_names),
        ]
        writer.writerow(cells)
        count += 1
    return count
