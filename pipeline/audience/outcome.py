"""What a library function did, in a sentence for people."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """What a command did, in a sentence, and whether the database changed."""

    changed: bool
    message: str
