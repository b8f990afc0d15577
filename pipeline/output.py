"""One output convention for every command: `--format table|json|jsonl|csv`."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import IO, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from pipeline.text import escape_controls


class Format(StrEnum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    csv = "csv"


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_default)


def _cell(value: Any) -> str:
    """A value as a person reads it in a table: control characters shown as escapes (an
    ESC sequence in a stored value must not drive the terminal, a line break must not
    split the row)."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dict | list):
        return dumps(value)
    return escape_controls(str(value))


def emit_rows(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    fmt: Format,
    *,
    title: str | None = None,
    out: IO[str] | None = None,
) -> None:
    """Print records in the chosen format; `table` is for people, the rest for scripts."""
    out = out or sys.stdout
    if fmt is Format.json:  # one array, written as it comes: a long listing stays small
        out.write("[")
        for index, row in enumerate(rows):
            out.write((", " if index else "") + dumps(dict(row)))
        out.write("]\n")
    elif fmt is Format.jsonl:
        for row in rows:
            out.write(dumps(dict(row)) + "\n")
    elif fmt is Format.csv:
        writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {k: (dumps(v) if isinstance(v, dict | list) else v) for k, v in row.items()}
            )
    else:
        # Text, not str: rich would read `[a-z0-9-]` in a value as markup and drop it.
        table = Table(title=Text(title) if title is not None else None)
        for column in columns:
            table.add_column(Text(column))
        for row in rows:
            table.add_row(*(Text(_cell(row.get(c))) for c in columns))
        # Piped output is not cut to 80 columns: a log read by a script or a pager stays whole.
        width = None if out.isatty() else 200
        Console(file=out, soft_wrap=True, width=width).print(table)


def emit_object(value: Mapping[str, Any], fmt: Format, *, out: IO[str] | None = None) -> None:
    """Print one record: JSON for scripts, `key: value` lines for people."""
    out = out or sys.stdout
    if fmt in (Format.json, Format.jsonl):
        out.write(dumps(dict(value)) + "\n")
        return
    for key, item in value.items():
        if isinstance(item, list | dict):
            item = dumps(item)
        out.write(f"{key}: {'' if item is None else item}\n")
