"""Text from outside (a CSV cell, an SNS field, a stored name, a setting) made safe to print,
log or put in a message: one definition of a control character, and one way each to show
such text, so that an ESC sequence never drives a terminal and a line break never splits
a log line, a table row or a header."""

from __future__ import annotations

import re

# C0 controls (CR, LF and TAB among them), DEL and C1 controls.
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def cut(text: str, limit: int) -> str:
    """`text` in at most `limit` characters, ending in "..." when it was cut."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shown(value: object, limit: int = 120) -> str:
    """An untrusted value for a message or a log line: quoted and escaped by repr, cut short."""
    return cut(repr(value), limit)


def printable(text: str) -> str:
    """Every character that would not print (controls, invisible marks) as "?"."""
    return "".join(c if c.isprintable() else "?" for c in text)


def escape_controls(text: str) -> str:
    """Control characters as escapes (`\\x1b`, `\\n`); everything else as it is."""
    return CONTROLS.sub(_escaped, text)


def visible(text: str) -> str:
    """Every character that would not print (controls, invisible marks) as its escape."""
    if text.isprintable():
        return text  # the usual case
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _escaped(found: re.Match[str]) -> str:
    return found.group().encode("unicode_escape").decode("ascii")
