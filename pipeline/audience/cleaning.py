"""What a subscriber's name and attributes may hold, checked where they enter the store.

A name reaches the To header of every message, the terminal and every spreadsheet an export
is opened in, so it is one line of visible text. A raw name is *cleaned*, not refused: a
line break in a name almost always comes from a spreadsheet cell typed over two lines, the
address is fine and the person asked for the newsletter, so refusing the row would lose a
subscriber over formatting. Line breaks and tabs become one space, other control and
invisible formatting characters (NUL, bidirectional overrides, zero-width spaces, BOMs)
are removed, runs of spaces collapse to one, and the caller reports what was done. ZWJ and
ZWNJ are kept (Persian, Indic scripts and emoji sequences need them), and so are the tag
characters of an emoji subdivision flag. What cannot be cleaned without guessing is
refused: a name longer than `MAX_NAME` (cutting it would store a name nobody wrote), or
text that is not valid Unicode.

Attributes are data, not display: a value keeps its line breaks and tabs (a notes column),
loses other control characters (PostgreSQL refuses NUL, most tools cut text at it), and is
bounded in length; numbers must be finite, since NaN and Infinity are not JSON.
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from typing import Any, NamedTuple

from pipeline.errors import InputError

MAX_NAME = 200  # characters, after cleaning
MAX_ATTRIBUTE_NAME = 100
MAX_ATTRIBUTE_VALUE = 2000  # characters of text (of JSON text, for a number or a list)

# str.splitlines() breaks at these; so would a mail client or a spreadsheet.
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_JOINERS = frozenset("\u200c\u200d")  # ZWNJ, ZWJ
_FLAG_TAGS = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")  # e.g. Scotland's flag
_SPACES = re.compile(" {2,}")
_VALUE_CONTROLS = re.compile("[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f]")


class Cleaned(NamedTuple):  # a tuple, not a frozen dataclass: made once per imported row
    """A cleaned name, and what cleaning changed (empty: it was clean already)."""

    name: str | None
    changes: tuple[str, ...]


def shown(text: str, limit: int = 60) -> str:
    """User text for a message: quoted, escaped and bounded (a 10 MB cell stays one line)."""
    return repr(text[:limit]) + ("..." if len(text) > limit else "")


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: undecodable bytes, or a JSON \ud800
        return False
    return True


def clean_name(raw: str | None) -> Cleaned:
    """The name as it may be stored; raises InputError for one that cannot be."""
    if raw is None:
        return Cleaned(None, ())
    if raw.isprintable() and "  " not in raw and len(raw) <= MAX_NAME:
        return Cleaned(raw.strip() or None, ())  # the common case, a million times an import
    if not _is_text(raw):
        raise InputError("the name is not valid UTF-8 text")
    kept_tags = {i for m in _FLAG_TAGS.finditer(raw) for i in range(m.start(), m.end())}
    changes: dict[str, None] = {}  # an ordered set
    out: list[str] = []
    for index, char in enumerate(raw):
        if char in _LINE_BREAKS:
            out.append(" ")
            changes["line break replaced by a space"] = None
        elif char == "\t":
            out.append(" ")
            changes["tab replaced by a space"] = None
        elif unicodedata.category(char) == "Cc":
            changes["control character removed"] = None
        elif unicodedata.category(char) == "Cf" and char not in _JOINERS and index not in kept_tags:
            changes["invisible formatting character removed"] = None
        else:
            out.append(char)
    if _SPACES.search(raw.strip()):
        changes["repeated spaces collapsed"] = None
    name = _SPACES.sub(" ", "".join(out)).strip()
    if len(name) > MAX_NAME:
        raise InputError(f"the name is {len(name)} characters long; at most {MAX_NAME} are allowed")
    return Cleaned(name or None, tuple(changes))


@functools.lru_cache(maxsize=4096)  # the same few column names, row after row
def attribute_name_problem(name: str) -> str | None:
    """Why a column (attribute) name cannot be used, or None if it can."""
    if not name:
        return "is empty"
    if not _is_text(name):
        return "is not valid UTF-8 text"
    if not name.isprintable():
        return "contains a control or invisible character"
    if len(name) > MAX_ATTRIBUTE_NAME:
        return f"is {len(name)} characters long (at most {MAX_ATTRIBUTE_NAME})"
    return None


def clean_attribute(name: str, value: Any) -> tuple[Any, bool]:
    """(the value as it may be stored, whether cleaning changed it); raises InputError for
    a value that cannot be stored (too long, not finite, not valid Unicode)."""
    if isinstance(value, str) and len(value) <= MAX_ATTRIBUTE_VALUE and value.isprintable():
        return value, False  # the common case
    cleaned, changed = _clean_value(name, value)
    size = len(cleaned) if isinstance(cleaned, str) else len(json.dumps(cleaned))
    if size > MAX_ATTRIBUTE_VALUE:
        raise InputError(
            f"attribute {name!r} is {size} characters long (at most {MAX_ATTRIBUTE_VALUE})"
        )
    return cleaned, changed


def _clean_value(name: str, value: Any) -> tuple[Any, bool]:
    if isinstance(value, str):
        if not _is_text(value):
            raise InputError(f"attribute {name!r} is not valid UTF-8 text")
        cleaned = _VALUE_CONTROLS.sub("", value)
        return cleaned, cleaned != value
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"attribute {name!r} is {value}: only finite numbers are allowed")
    if isinstance(value, list):
        items = [_clean_value(name, v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    if isinstance(value, dict):
        for key in value:
            if not _is_text(key):
                raise InputError(f"attribute {name!r} has a key that is not valid UTF-8 text")
        pairs = {k: _clean_value(name, v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(c for _, c in pairs.values())
    return value, False
