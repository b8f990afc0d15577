"""What an import did, row by row where it matters: the report `subscribers import`
prints (and `--format json` writes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipeline.audience.sources import TITLES


@dataclass(frozen=True)
class InvalidRow:
    """A row not imported: invalid, or (in `skipped_rows`) deliberately skipped."""

    line: int
    reason: str
    file: str | None = None  # the file it is in (a zip holds several)


@dataclass(frozen=True)
class CleanedRow:
    """A row imported after cleaning (see `cleaning.py`): `what` says what changed."""

    line: int
    what: str
    file: str | None = None


@dataclass
class ImportReport:
    """What an import did (or, for a dry run or a failed --strict, would have done)."""

    path: str
    list_name: str
    format: str = "plain"  # the format recognised (or forced): mailchimp, ..., plain
    files: list[dict[str, Any]] = field(default_factory=list)  # each file read, and what
    added: int = 0  # new to the list (new people, or known people joining it)
    confirmed: int = 0  # of them, people whose pending signup the import confirmed
    updated: int = 0  # already on the list; name or attributes changed
    unchanged: int = 0
    duplicates: int = 0  # the same address again, later in the file
    suppressed: int = 0  # unsubscribed, bounced, complained or forgotten: left alone
    # the people the source marks unsubscribed / bounced (cleaned) / blocklisted, who
    # arrived (or were marked) suppressed
    arrived_suppressed: dict[str, int] = field(
        default_factory=lambda: {"unsubscribed": 0, "bounced": 0, "blocklisted": 0}
    )
    newer_here: int = 0  # the source's opt-out predates their subscription here: kept
    consents: int = 0  # consent records written, one per person joining the list
    invalid: int = 0
    invalid_rows: list[InvalidRow] = field(default_factory=list)
    skipped: int = 0  # rows deliberately not imported (never opted in, deletion requests)
    skipped_rows: list[InvalidRow] = field(default_factory=list)
    cleaned: int = 0  # imported (or counted) after cleaning a name or an attribute
    cleaned_rows: list[CleanedRow] = field(default_factory=list)
    written: bool = False

    @property
    def format_title(self) -> str:
        return TITLES.get(self.format, self.format)

    def as_dict(self) -> dict[str, Any]:
        def where(row: InvalidRow | CleanedRow) -> dict[str, Any]:
            return {"file": row.file} if row.file and row.file != self.path else {}

        return {
            "path": self.path,
            "list": self.list_name,
            "format": self.format,
            "recognised": self.format_title,
            "files": self.files,
            "added": self.added,
            "confirmed": self.confirmed,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "suppressed": self.suppressed,
            "arrived_suppressed": self.arrived_suppressed,
            "newer_here": self.newer_here,
            "consents": self.consents,
            "invalid": self.invalid,
            "skipped": self.skipped,
            "cleaned": self.cleaned,
            "written": self.written,
            "invalid_rows": [
                {**where(r), "line": r.line, "reason": r.reason} for r in self.invalid_rows
            ],
            "skipped_rows": [
                {**where(r), "line": r.line, "reason": r.reason} for r in self.skipped_rows
            ],
            "cleaned_rows": [
                {**where(r), "line": r.line, "what": r.what} for r in self.cleaned_rows
            ],
        }
