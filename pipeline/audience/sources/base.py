"""What the readers of other tools' exports share: their interface, and the small strict
parsers for the cells they have in common (booleans, lists, IP addresses)."""

from __future__ import annotations

import csv
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from pipeline.audience.cleaning import shown
from pipeline.audience.listfile import RESERVED, BadRow, Row, check_columns
from pipeline.errors import InputError


@dataclass(frozen=True, slots=True)
class Skipped:
    """A row deliberately not imported (e.g. Substack's placeholder for a deleted reader)."""

    line: int
    reason: str


class BadCell(ValueError):
    """A cell that does not hold what its column promises: the row is invalid."""


Mapper = Callable[[int, list[str]], Row | BadRow | Skipped]
T = TypeVar("T")


class OptionalCells:
    """Reads the cells of one row that say more than who the person is and whether they
    stopped their mail (dates, an IP, JSON attributes). On a row that stops mail a bad one
    is left out and reported (`dropped`): a suppression is never lost to a bad cell. On a
    row that subscribes it makes the row invalid: a consent record built on a date the file
    does not hold would be false."""

    def __init__(self, suppresses: bool) -> None:
        self.suppresses = suppresses
        self.dropped: list[str] = []

    def read(self, parse: Callable[[], T]) -> T | None:
        try:
            return parse()
        except BadCell as exc:
            if not self.suppresses:
                raise
            self.dropped.append(str(exc))
            return None


@dataclass(frozen=True)
class Context:
    """What a reader knows besides the header: where the file is (for messages), its name
    (to tell Mailchimp's subscribed, unsubscribed and cleaned files apart), and now."""

    where: str
    file_name: str
    now: datetime


@dataclass(frozen=True)
class Source:
    """One tool's export: how to recognise its header, and how to read its rows."""

    name: str  # what --from takes
    title: str  # what the summary says
    required: tuple[str, ...]  # lowercased columns it cannot do without
    reader: Callable[[list[str], Context], Mapper]
    # Whether a header (lowercased) is this tool's; None: it is when it has every required
    # column, so the columns are named once.
    recognise: Callable[[frozenset[str]], bool] | None = None

    def recognises(self, columns: frozenset[str]) -> bool:
        if self.recognise is not None:
            return self.recognise(columns)
        return set(self.required) <= columns


class Columns:
    """A header's columns by lowercased name, with the ones a reader consumes marked, so
    that every other column becomes an attribute (under its lowercased name)."""

    def __init__(self, header: list[str], where: str) -> None:
        self.names = [h.lower() for h in header]
        check_columns(self.names, where, reserved=())
        self.where = where
        self._at = {n: i for i, n in enumerate(self.names)}
        self._used: set[str] = set()

    def at(self, name: str) -> int | None:
        """The index of a column (marking it consumed), None if the header has none."""
        self._used.add(name)
        return self._at.get(name)

    def need(self, name: str) -> int:
        found = self.at(name)
        if found is None:  # recognition or --from guarantees it; this guards a wrong --from
            raise InputError(f"{self.where}: no {name!r} column")
        return found

    def rest(self, renamed: dict[str, str] | None = None) -> list[tuple[int, str]]:
        """(index, attribute name) of the columns nobody consumed."""
        renamed = renamed or {}
        return [
            (i, attribute_name(renamed.get(n, n)))
            for i, n in enumerate(self.names)
            if n not in self._used
        ]


def attribute_name(name: str) -> str:
    """An attribute may not be called `email` or `name`: an export writes those columns
    itself, and a second one would make the file unreadable. Such a column of the source
    (a merge field called Name, say) is kept as `source_name`."""
    return f"source_{name}" if name in RESERVED else name


def cell(cells: list[str], at: int | None) -> str:
    return cells[at] if at is not None else ""


def boolean(text: str, column: str) -> bool | None:
    """true / false in any case; an empty cell is None."""
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    if not text:
        return None
    raise BadCell(f"{column} is {shown(text, 40)}, not true or false")


def comma_list(text: str) -> list[str]:
    """`a, b,c` -> ["a", "b", "c"] (Ghost's labels and tiers)."""
    return [item.strip() for item in text.split(",") if item.strip()]


def quoted_list(text: str) -> list[str]:
    """Mailchimp's TAGS cell, `"Tag one","Tag two"` (each tag quoted, comma separated) or a
    bare `Tag`, as a list."""
    if not text:
        return []
    items = next(csv.reader([text], skipinitialspace=True), [])
    return [item.strip() for item in items if item.strip()]


def ip_address(text: str, column: str) -> str | None:
    """An IPv4 or IPv6 address in its canonical form; None for an empty cell."""
    if not text:
        return None
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise BadCell(f"{column} is {shown(text, 40)}, not an IP address") from None


def attributes(cells: list[str], columns: Iterable[tuple[int, str]]) -> dict[str, object]:
    return {name: value for at, name in columns if (value := cells[at])}
