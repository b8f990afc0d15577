"""Bounds on an issue file, far above any real issue, so that hostile or broken input fails
with a message instead of memory, time or a silently broken email.

The sample issue is 12 KB with 14 articles, lists three levels deep and a number below 100.
"""

from __future__ import annotations

import os
import reprlib
import stat
from pathlib import Path

# A 2 MB issue renders far past Gmail's 102 KB clipping limit already; larger files cost
# hundreds of megabytes to parse and render.
MAX_FILE_BYTES = 2 * 1024 * 1024
# Each article is one MJML section; hundreds of thousands of them abort inside MRML.
MAX_ARTICLES = 500
# Lists and quotes inside one another. markdown-it stops parsing past its `maxNesting`
# (which `source.markdown()` sets well above this) and drops the rest without a word.
MAX_NESTING = 10
# The front matter holds a few short values (the sample's is 150 bytes); bounding it lets a
# scan over a folder read only the head of each file.
MAX_FRONT_MATTER_BYTES = 64 * 1024
# Nesting of the front matter's YAML (the deepest real value, period's dates, is 2).
MAX_FRONT_MATTER_DEPTH = 4
# The issue number names /issues/N and a database column: a weekly newsletter reaches
# 999,999 in 19,000 years, and every integer column and route handles it.
MAX_NUMBER = 999_999
# The CSS inliner (premailer) takes about 1.5 ms per element: an HTML document this large
# before inlining (twice Gmail's 102 KB clipping limit, which inlining only grows past)
# is refused before it is inlined, so a hostile issue costs seconds, not minutes.
MAX_HTML_BEFORE_INLINING = 2 * 102 * 1024
# How much of a user's value a message quotes.
MAX_SHOWN = 60
# Problems of one kind reported per file; the rest are counted (a hostile file can hold
# a hundred thousand empty bullets).
MAX_PER_RULE = 100


class UnreadableFile(Exception):
    """The path is not a regular file of a sane size; `str()` says why and what to do."""


def read_regular_file(path: Path, limit: int = MAX_FILE_BYTES, *, head: int | None = None) -> bytes:
    """The bytes of a regular file of at most `limit` bytes (only the first `head` bytes
    when given: a scan over many files needs only their front matter).

    A FIFO, a device or a folder is refused before it is opened: opening a FIFO blocks
    until a writer comes, and reading /dev/zero never ends.
    """
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UnreadableFile("no such file") from None
    except OSError as exc:
        raise UnreadableFile(f"cannot read the file: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFile("not a regular file (a folder, pipe or device): give a .md file")
    if info.st_size > limit:
        raise UnreadableFile(too_big(info.st_size, limit))
    try:
        # O_NONBLOCK: if the path was swapped for a FIFO since the stat, do not wait on it.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise UnreadableFile(f"cannot read the file: {exc.strerror or exc}") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise UnreadableFile("not a regular file (a folder, pipe or device): give a .md file")
        if head is not None:
            return handle.read(head)
        data = handle.read(limit + 1)  # a file that grew since the stat is still bounded
    if len(data) > limit:
        raise UnreadableFile(too_big(len(data), limit))
    return data


def too_big(size: int, limit: int) -> str:
    return (
        f"the file is {size / 1024 / 1024:.1f} MB; an issue can be at most "
        f"{limit // 1024 // 1024} MB: split it into several issues"
    )


def shown(value: object) -> str:
    """A user's value for a message: like repr, but bounded in time and length, even for a
    structure of shared references that would repr to gigabytes (a YAML alias bomb)."""
    try:
        text = _SHORT_REPR.repr(value)
    except ValueError:  # an int of more digits than Python will print
        return f"<a {type(value).__name__} too large to show>"
    return text if len(text) <= 2 * MAX_SHOWN else text[: 2 * MAX_SHOWN] + "..."


_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxstring = MAX_SHOWN
_SHORT_REPR.maxother = MAX_SHOWN
_SHORT_REPR.maxlong = MAX_SHOWN
_SHORT_REPR.maxlevel = 2
_SHORT_REPR.maxlist = _SHORT_REPR.maxdict = _SHORT_REPR.maxtuple = _SHORT_REPR.maxset = 4
