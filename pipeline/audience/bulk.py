"""Import a list file into a list, and export a list: streamed, whatever the size.

An import is one transaction (a crash or Ctrl-C leaves the database as it was), fed in
batches of `BATCH_SIZE` rows with a few set-based queries each, so memory stays flat: the
only thing that grows is the set of addresses already seen in the file, kept as 64-bit
hashes (about 70 bytes per row, 70 MB for a million rows).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from pipeline.audience.addresses import Address, email_hash, normalise_email
from pipeline.audience.cleaning import (
    attribute_name_problem,
    clean_attribute,
    clean_name,
    shown,
)
from pipeline.audience.listfile import BadRow, ExportFormat, ListFile, Row, write_rows
from pipeline.audience.store import MailingList, Store, Tx
from pipeline.errors import InputError

ProgressCallback = Callable[[int, int], None]  # (bytes read, bytes in the file)
BATCH_SIZE = 1000  # rows per executemany
KEEP_INVALID = 1000  # invalid rows an ImportReport keeps; on_invalid sees every one


@dataclass(frozen=True)
class InvalidRow:
    line: int
    reason: str


@dataclass(frozen=True)
class CleanedRow:
    """A row imported after cleaning (see `cleaning.py`): `what` says what changed."""

    line: int
    what: str


@dataclass
class ImportReport:
    """What an import did (or, for a dry run or a failed --strict, would have done)."""

    path: str
    list_name: str
    added: int = 0  # new to the list (new people, or known people joining it)
    updated: int = 0  # already on the list; name or attributes changed
    unchanged: int = 0
    duplicates: int = 0  # the same address again, later in the file
    suppressed: int = 0  # unsubscribed, bounced, complained or forgotten: left alone
    invalid: int = 0
    invalid_rows: list[InvalidRow] = field(default_factory=list)
    cleaned: int = 0  # imported (or counted) after cleaning a name or an attribute
    cleaned_rows: list[CleanedRow] = field(default_factory=list)
    written: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "list": self.list_name,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "duplicates": self.duplicates,
            "suppressed": self.suppressed,
            "invalid": self.invalid,
            "cleaned": self.cleaned,
            "written": self.written,
            "invalid_rows": [{"line": r.line, "reason": r.reason} for r in self.invalid_rows],
            "cleaned_rows": [{"line": r.line, "what": r.what} for r in self.cleaned_rows],
        }


def import_csv(
    store: Store,
    path: Path | str,
    list_name: str,
    *,
    strict: bool = False,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    on_invalid: Callable[[InvalidRow], None] | None = None,
    on_cleaned: Callable[[CleanedRow], None] | None = None,
) -> ImportReport:
    """Import a CSV (or .jsonl) file into an existing list; see the module docstring.

    Nothing is written on `dry_run`, or with `strict` when any row is invalid: the work
    is done inside the transaction and rolled back, so the counts are exact either way.
    `progress(bytes_read, bytes_total)` is called after each batch. A row whose name or
    attributes had to be cleaned is imported cleaned and reported (`on_cleaned`); it is
    not invalid, so --strict does not refuse it.
    """
    path = Path(path)
    report = ImportReport(str(path), list_name)

    def invalid(line: int, reason: str) -> None:
        report.invalid += 1
        row = InvalidRow(line, reason)
        if len(report.invalid_rows) < KEEP_INVALID:
            report.invalid_rows.append(row)
        if on_invalid:
            on_invalid(row)

    def cleaned(line: int, what: str) -> None:
        report.cleaned += 1
        row = CleanedRow(line, what)
        if len(report.cleaned_rows) < KEEP_INVALID:
            report.cleaned_rows.append(row)
        if on_cleaned:
            on_cleaned(row)

    # The consent record names the file; a file name may hold anything but "/" and NUL.
    source = "import " + "".join(c if c.isprintable() else "?" for c in path.name)[:180]
    seen: set[int] = set()  # hash() of each address key: 64 bits, collisions ~1e-8 per 1M
    batch: list[tuple[Row, Address]] = []
    now = datetime.now(UTC)
    with ListFile(path) as rows, store.begin() as tx:
        mlist = tx.require_list(list_name)
        for row in rows:
            if isinstance(row, BadRow):
                invalid(row.line, row.reason)
                continue
            try:
                address = normalise_email(row.email)
                row, changes = _cleaned(row)
            except InputError as exc:
                invalid(row.line, exc.message)
                continue
            if changes:
                cleaned(row.line, changes)
            digest = hash(address.key)
            if digest in seen:
                report.duplicates += 1
                continue
            seen.add(digest)
            batch.append((row, address))
            if len(batch) >= BATCH_SIZE:
                _apply(tx, mlist, batch, report, now, source)
                batch.clear()
                if progress:
                    progress(rows.bytes_read, rows.size)
        _apply(tx, mlist, batch, report, now, source)
        if progress:
            progress(rows.size, rows.size)
        tx.discard = dry_run or (strict and report.invalid > 0)
        report.written = not tx.discard
    return report


def _cleaned(row: Row) -> tuple[Row, str]:
    """The row with its name and attributes as they may be stored, and what cleaning
    changed ("" for nothing); raises InputError for a row that cannot be stored."""
    name = clean_name(row.name)
    changes = [f"name cleaned: {', '.join(name.changes)}"] if name.changes else []
    attributes: dict[str, Any] = {}
    for key, raw in row.attributes.items():
        problem = attribute_name_problem(key)
        if problem:
            raise InputError(f"the attribute name {shown(key)} {problem}")
        value, changed = clean_attribute(key, raw)
        if changed:
            changes.append(f"attribute {key!r} cleaned: control character removed")
        if value not in ("", None):
            attributes[key] = value
    if not changes:
        return row, ""
    return Row(row.line, row.email, name.name, attributes), "; ".join(changes)


def _apply(
    tx: Tx,
    mlist: MailingList,
    batch: list[tuple[Row, Address]],
    report: ImportReport,
    now: datetime,
    source: str,
) -> None:
    """Decide and write one batch: a handful of queries whatever its size."""
    if not batch:
        return
    existing = tx.subscribers_by_keys(a.key for _, a in batch)
    memberships = tx.membership_statuses(mlist.id, (s.id for s in existing.values()))
    fresh = {a.key: email_hash(a.key) for _, a in batch if a.key not in existing}
    forgotten = tx.suppressed_hashes(fresh.values()) if fresh else set()
    people: list[tuple[str, str, str | None, dict[str, Any]]] = []
    joining: list[int] = []
    changes: list[tuple[int, str | None, dict[str, Any]]] = []
    for row, address in batch:
        sub = existing.get(address.key)
        if sub is None:
            if fresh[address.key] in forgotten:
                report.suppressed += 1
            else:
                people.append((address.email, address.key, row.name, row.attributes))
                report.added += 1
            continue
        membership = memberships.get(sub.id)
        if sub.status != "active" or membership == "unsubscribed":
            report.suppressed += 1  # their choice (or their inbox's) outranks the file
            continue
        # An empty cell leaves a value alone, so a file with fewer columns loses nothing.
        name = row.name or sub.name
        attributes = {**sub.attributes, **row.attributes}
        differs = name != sub.name or attributes != sub.attributes
        if differs:
            changes.append((sub.id, name, attributes))
        if membership is None:
            joining.append(sub.id)
            report.added += 1
        elif differs:
            report.updated += 1
        else:
            report.unchanged += 1
    new_ids = tx.insert_subscribers(people, now)
    tx.insert_memberships(mlist.id, [*joining, *new_ids.values()], now, source)
    tx.update_subscribers(changes, now)


def export(
    store: Store, list_name: str, out: IO[str], fmt: ExportFormat = "csv", *, excel: bool = False
) -> int:
    """Write the people who receive a list (email, name, attributes) in a form that
    `import_csv` reads back; return how many. Two streamed passes for CSV: the first
    collects the attribute names for the header. CSV cells that a spreadsheet would run as
    a formula are escaped (see `listfile.escape_cell`); `excel` adds a BOM and CRLF."""
    if excel and fmt != "csv":
        raise InputError("--excel is for CSV; JSON Lines is always plain UTF-8")
    with store.begin(write=False) as tx:
        mlist = tx.require_list(list_name)
        names: set[str] = set()
        if fmt == "csv":
            for sub in tx.members(mlist.id):
                names.update(sub.attributes)
        records = ((s.email, s.name, s.attributes) for s in tx.members(mlist.id))
        return write_rows(out, fmt, records, sorted(names), excel=excel)
