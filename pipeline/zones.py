"""Time zones by name, read so that no name is an internal error.

`ZoneInfo` turns a name into a file path: a 300-character name is an OSError (file name
too long), a folder name (`Asia`) is IsADirectoryError, `..` or `/etc/passwd` a
ValueError, and only a well-formed unknown name the documented ZoneInfoNotFoundError.
Every zone the pipeline reads from a person (`--tz`, the `timezone` setting, `TZ`, a
stored schedule) goes through `find`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MAX_NAME = 64  # the longest tz database name is 32 characters
HINT = "give an IANA zone name such as Asia/Seoul, Europe/Berlin or UTC"


def find(name: str) -> ZoneInfo | None:
    """The zone of that tz database name; None for anything else."""
    if not name or len(name) > MAX_NAME:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def tz_variable() -> str | None:
    """The TZ environment variable as a zone name (`:Asia/Seoul` -> `Asia/Seoul`), or
    None when it is not set."""
    value = os.environ.get("TZ")
    return value.lstrip(":") if value else None


@contextmanager
def tz_hidden_when_unusable() -> Iterator[None]:
    """Babel reads TZ when it is imported and fails on a name zoneinfo cannot open (a
    300-character one, a folder): import it inside this block, which hides such a TZ."""
    name = tz_variable()
    if name is None or find(name) is not None:
        yield
        return
    value = os.environ.pop("TZ")
    try:
        yield
    finally:
        os.environ["TZ"] = value
