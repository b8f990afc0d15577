"""The tree of a filter (`filters.parse` makes it, `filtersql.condition` turns it into
SQL), and the filter back as text in one canonical spelling (`text_of`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal

Op = Literal["=", "!=", "<", "<=", ">", ">="]
Value = str | Decimal | date
# After `tag:` and `attr.`: a name runs to a space, a parenthesis, an operator or a quote.
NAME = re.compile(r"[^\s()=!<>~\"':]+")


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class AllOf:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class Compare:
    """`attr.NAME OP value`: a Decimal compares numbers, a date compares dates, a str text."""

    name: str
    op: Op
    value: Value


@dataclass(frozen=True)
class Exists:
    name: str


@dataclass(frozen=True)
class Contains:
    field: Literal["email", "name"]
    text: str
    exact: bool = False  # `=` rather than `~`


@dataclass(frozen=True)
class Tagged:
    tag: str


@dataclass(frozen=True)
class Status:
    value: str
    negated: bool = False


@dataclass(frozen=True)
class Joined:
    op: Op
    day: date


@dataclass(frozen=True)
class JoinedWithin:
    days: int


@dataclass(frozen=True)
class Engaged:
    """Opened, clicked or received one of the list's last `issues` issues."""

    what: Literal["opened", "clicked", "received"]
    issues: int


Node = (
    AnyOf | AllOf | Not | Compare | Exists | Contains | Tagged | Status | Joined | JoinedWithin
) | Engaged


# --- back to text -----------------------------------------------------------------------


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _name(text: str) -> str:
    return text if NAME.fullmatch(text) else _quoted(text)


def text_of(node: Node) -> str:
    """The filter in one canonical spelling (lowercase keywords, single spaces, the
    parentheses it needs): two spellings of one filter give one text, which identifies a
    campaign's audience."""
    match node:
        case AnyOf(items):
            return " or ".join(text_of(i) for i in items)
        case AllOf(items):
            return " and ".join(_inner(i) for i in items)
        case Not(item):
            return "not " + _inner(item)
        case Compare(name, op, value):
            shown = _quoted(value) if isinstance(value, str) else str(value)
            return f"attr.{_name(name)} {op} {shown}"
        case Exists(name):
            return f"attr.{_name(name)} exists"
        case Contains(field, text, exact):
            return f"{field} {'=' if exact else '~'} {_quoted(text)}"
        case Tagged(tag):
            return f"tag:{_name(tag)}"
        case Status(value, negated):
            return f"status {'!=' if negated else '='} {_quoted(value)}"
        case Joined(op, day):
            return f"joined {op} {day.isoformat()}"
        case JoinedWithin(days):
            return f"joined within {days}d"
        case Engaged(what, issues):
            return f"{what} in last {issues} issues"
    raise AssertionError(node)  # pragma: no cover


def _inner(node: Node) -> str:
    return f"({text_of(node)})" if isinstance(node, AnyOf | AllOf) else text_of(node)
