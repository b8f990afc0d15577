"""Import a list file into a list, and export a list: streamed, whatever the size.

The file is a plain list (`email,name,...`, CSV or JSON Lines) or the export of the tool
the publisher leaves (Mailchimp, its zip too; Substack; Ghost; listmonk), recognised from
its header or named with `source` (see `sources/`). The source's word on a person is kept:
those it marks unsubscribed, cleaned, blocklisted or email-disabled arrive suppressed, and
its opt-in time becomes the consent record of everyone who arrives subscribed.

The rule that matters most holds for every format: an import never turns an unsubscribed,
bounced, complained or forgotten person back into a subscriber; it may only add what the
source says against mailing someone, and not even that when the person subscribed here
after the source's opt-out (their later, explicit choice wins).

An import is one transaction (a crash or Ctrl-C leaves the database as it was), fed in
batches of `BATCH_SIZE` rows with a few set-based queries each, so memory stays flat: the
only thing that grows is the set of addresses already seen in the file, kept as 64-bit
hashes (about 70 bytes per row, 70 MB for a million rows).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from pipeline.audience import importwrites as writes
from pipeline.audience import tags as tagging
from pipeline.audience.addresses import Address, email_hash, normalise_email
from pipeline.audience.cleaning import (
    attribute_name_problem,
    clean_attribute,
    clean_name,
    shown,
)
from pipeline.audience.importreport import CleanedRow, ImportReport, InvalidRow
from pipeline.audience.importwrites import NewConsent, NewMembership
from pipeline.audience.joining import Join, confirm_pending, publisher_adds
from pipeline.audience.listexport import ExportRecord, write_rows
from pipeline.audience.listfile import BadRow, ExportFormat, Row
from pipeline.audience.queries import AudienceTx
from pipeline.audience.records import MailingList, Subscriber
from pipeline.audience.sources import Part, Skipped, ZipLimits, open_parts
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.errors import InputError
from pipeline.settings import Settings
from pipeline.text import printable

ProgressCallback = Callable[[int, int], None]  # (bytes read, bytes in the file)
BATCH_SIZE = 5000  # rows per batch: per-statement costs (COPY, foreign-key checks) stay small
KEEP_INVALID = 1000  # invalid rows an ImportReport keeps; on_invalid sees every one
# The status a person gets when the source says more than "left this list": a cleaned
# (bounced) address bounces for every list; a blocklisted one gets no mail from any list,
# which here is the person's `unsubscribed` (only an explicit resubscribe undoes it).
_PERSON_STATUS = {"bounced": "bounced", "blocklisted": "unsubscribed"}


@dataclass(frozen=True)
class _Origin:
    """How one file's people are labelled: the membership's source, the consent detail."""

    membership: str
    consent: str

    @classmethod
    def of(cls, part: Part) -> _Origin:
        # A file name may hold anything but "/" and NUL: printable text, bounded.
        name = printable(part.file_name)[:180]
        what = "plain file" if part.format == "plain" else f"{part.format} export"
        return cls(f"import {name}", f"{what}: {name}"[:200])


def import_csv(
    store: Store,
    path: Path | str,
    list_name: str,
    *,
    source: str | None = None,
    encoding: str | None = None,
    zip_limits: ZipLimits | None = None,
    strict: bool = False,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    on_invalid: Callable[[InvalidRow], None] | None = None,
    on_cleaned: Callable[[CleanedRow], None] | None = None,
    on_skipped: Callable[[InvalidRow], None] | None = None,
    tags: tuple[str, ...] = (),
) -> ImportReport:
    """Import a list file or another tool's export into an existing list; see the module
    docstring. `source` forces a format (`sources.FORMATS`); by default the header decides.
    `encoding` names the file's text encoding (by default: its BOM, else UTF-8; a file not
    in it is refused whole). A zip past `zip_limits` (default: the settings' defaults) is
    refused before it is read.

    Nothing is written on `dry_run`, or with `strict` when any row is invalid: the work
    is done inside the transaction and rolled back, so the counts are exact either way.
    `tags` are given to every person the file adds or updates, besides the file's own.
    `progress(bytes_read, bytes_total)` is called after each batch. A row whose name or
    attributes had to be cleaned is imported cleaned and reported (`on_cleaned`); it is
    not invalid, so --strict does not refuse it; nor is a skipped row.
    """
    path = Path(path)
    every_row = tuple(dict.fromkeys(tagging.clean_tag(t) for t in tags))
    report = ImportReport(str(path), list_name)
    now = utcnow()
    limits = zip_limits or ZipLimits.of(Settings.model_construct())  # the defaults
    with (
        open_parts(path, source, now, limits=limits, encoding=encoding) as parts,
        store.begin(AudienceTx) as tx,
    ):
        importer = _Importer(
            tx, tx.require_list(list_name), report, now, on_invalid, on_cleaned, on_skipped
        )
        importer.tags = every_row
        done = 0
        for part in parts.opened:
            importer.read(part, progress, done, parts.size)
            done += part.listfile.size
        formats = {f["format"] for f in report.files}
        report.format = formats.pop() if len(formats) == 1 else "mixed"
        if progress:
            progress(parts.size, parts.size)
        tx.discard = dry_run or (strict and report.invalid > 0)
        report.written = not tx.discard
    return report


@dataclass
class _Importer:
    """One import's state across its files: the transaction, the counts, the callbacks,
    and the addresses seen (a person in two files of a zip counts once)."""

    tx: AudienceTx
    mlist: MailingList
    report: ImportReport
    now: datetime
    on_invalid: Callable[[InvalidRow], None] | None
    on_cleaned: Callable[[CleanedRow], None] | None
    on_skipped: Callable[[InvalidRow], None] | None
    seen: set[int] = field(default_factory=set)  # hash() of each key: 64 bits, ~1e-8 per 1M
    tags: tuple[str, ...] = ()  # --tag: for every row

    def read(self, part: Part, progress: ProgressCallback | None, done: int, total: int) -> None:
        """Import one file; `done` bytes of the `total` were in the files before it."""
        report = self.report
        report.files.append({"file": part.where, "format": part.format, "kind": part.kind})
        origin = _Origin.of(part)
        batch: list[tuple[Row, Address]] = []
        for row in part.rows:
            if isinstance(row, BadRow | Skipped):
                self._not_imported(part, row)
                continue
            try:
                address = normalise_email(row.email)
                row, changes = _cleaned(row)
            except InputError as exc:
                self._not_imported(part, BadRow(row.line, exc.message))
                continue
            if changes:
                report.cleaned += 1
                cleaned = CleanedRow(row.line, changes, part.where)
                _keep(report.cleaned_rows, cleaned, self.on_cleaned)
            digest = hash(address.key)
            if digest in self.seen:
                report.duplicates += 1
                continue
            self.seen.add(digest)
            batch.append((row, address))
            if len(batch) >= BATCH_SIZE:
                _apply(self.tx, self.mlist, batch, report, self.now, origin, self.tags)
                batch.clear()
                if progress:
                    progress(done + part.listfile.bytes_read, total)
        _apply(self.tx, self.mlist, batch, report, self.now, origin, self.tags)

    def _not_imported(self, part: Part, row: BadRow | Skipped) -> None:
        entry = InvalidRow(row.line, row.reason, part.where)
        if isinstance(row, Skipped):
            self.report.skipped += 1
            _keep(self.report.skipped_rows, entry, self.on_skipped)
        else:
            self.report.invalid += 1
            _keep(self.report.invalid_rows, entry, self.on_invalid)


def _keep(kept: list[Any], row: Any, callback: Callable[[Any], None] | None) -> None:
    if len(kept) < KEEP_INVALID:
        kept.append(row)
    if callback:
        callback(row)


_DROPPED = "left out, the suppression applied"


def _cleaned(row: Row) -> tuple[Row, str]:
    """The row with its name and attributes as they may be stored, and what cleaning
    changed ("" for nothing); raises InputError for a row that cannot be stored. On a row
    that stops mail, a name or attribute that cannot be stored is left out (and said), as
    the source's unreadable cells were (`Row.dropped`): the suppression still applies."""
    suppresses = row.standing != "subscribed"
    changes = [f"{why}: {_DROPPED}" for why in row.dropped]
    if tagging.TAGS_COLUMN in row.attributes:
        row = _tags_taken(row, changes, _DROPPED if suppresses else "left out")
    try:
        name = clean_name(row.name)
    except InputError as exc:
        if not suppresses:
            raise
        name = clean_name(None)
        changes.append(f"{exc.message}: {_DROPPED}")
    if name.changes:
        changes.append(f"name cleaned: {', '.join(name.changes)}")
    attributes: dict[str, Any] = {}
    for key, raw in row.attributes.items():
        problem = attribute_name_problem(key)
        if problem:
            raise InputError(f"the attribute name {shown(key)} {problem}")
        try:
            value, changed = clean_attribute(key, raw)
        except InputError as exc:
            if not suppresses:
                raise
            changes.append(f"{exc.message}: {_DROPPED}")
            continue
        if changed:
            changes.append(f"attribute {key!r} cleaned: control character removed")
        if value not in ("", None):
            attributes[key] = value
    if not changes:
        return row, ""
    return dataclasses.replace(row, name=name.name, attributes=attributes), "; ".join(changes)


def _tags_taken(row: Row, changes: list[str], dropped: str) -> Row:
    """The row with its `tags` cell made tags. A bad tag is left out and said, as a bad
    character in a name is removed: the person is imported all the same."""
    raw = row.attributes[tagging.TAGS_COLUMN]
    items = raw.replace(";", ",").split(",") if isinstance(raw, str) else raw
    found: dict[str, None] = {}
    for item in items if isinstance(items, list) else [items]:
        try:
            found.update(dict.fromkeys(tagging.tags_of_cell([item])))
        except InputError as exc:
            changes.append(f"{exc.message}: {dropped}")
    attributes = {k: v for k, v in row.attributes.items() if k != tagging.TAGS_COLUMN}
    return dataclasses.replace(row, attributes=attributes, tags=tuple(found))


def _apply(
    tx: AudienceTx,
    mlist: MailingList,
    batch: list[tuple[Row, Address]],
    report: ImportReport,
    now: datetime,
    origin: _Origin,
    every_row: tuple[str, ...] = (),
) -> None:
    """Decide and write one batch: a handful of queries whatever its size."""
    if not batch:
        return
    existing = tx.subscribers_by_keys(a.key for _, a in batch)
    had = tagging.of(tx.conn, (s.id for s in existing.values()))
    tagged: list[tuple[int, str]] = []
    here = writes.memberships_since(tx.conn, mlist.id, [s.id for s in existing.values()])
    fresh = {a.key: email_hash(a.key) for _, a in batch if a.key not in existing}
    forgotten = tx.suppressed_hashes(fresh.values()) if fresh else set()
    people: list[tuple[str, str, str | None, dict[str, Any]]] = []
    new_rows: dict[str, Row] = {}
    joining: list[NewMembership] = []
    consents: list[NewConsent] = []
    leaving: list[tuple[int, datetime]] = []
    statuses: list[tuple[int, str]] = []
    confirming: list[int] = []
    changes: list[tuple[int, str | None, dict[str, Any]]] = []
    for row, address in batch:
        sub = existing.get(address.key)
        if sub is None:
            if fresh[address.key] in forgotten:
                report.suppressed += 1
            else:
                people.append((address.email, address.key, row.name, row.attributes))
                new_rows[address.key] = row
                if row.standing == "subscribed":
                    report.added += 1
                else:
                    report.arrived_suppressed[row.standing] += 1
            continue
        membership, since = here.get(sub.id, (None, None))
        join = publisher_adds(sub.status, membership)
        if join is Join.REFUSED:
            report.suppressed += 1  # their choice (or their inbox's) outranks the file
            continue
        # An empty cell leaves a value alone, so a file with fewer columns loses nothing.
        name = row.name or sub.name
        attributes = {**sub.attributes, **row.attributes}
        new_tags = [t for t in (*row.tags, *every_row) if t not in had.get(sub.id, ())]
        differs = name != sub.name or attributes != sub.attributes
        if row.standing != "subscribed":
            if since is not None and row.left_at is not None and since > row.left_at:
                report.newer_here += 1  # they subscribed here after leaving the source
                continue
            if differs:
                changes.append((sub.id, name, attributes))
            tagged.extend((sub.id, t) for t in new_tags)
            left = row.left_at or now
            if membership is None:
                joining.append(_left(sub.id, row, now))
            else:
                leaving.append((sub.id, left))
            if row.standing in _PERSON_STATUS:
                statuses.append((sub.id, _PERSON_STATUS[row.standing]))
            report.arrived_suppressed[row.standing] += 1
            continue
        if differs:
            changes.append((sub.id, name, attributes))
        tagged.extend((sub.id, t) for t in new_tags)
        differs = differs or bool(new_tags)
        if join is Join.NEW:
            joining.append(NewMembership(sub.id, "subscribed", row.requested_at or now, None))
            consents.append(_consent(sub.id, row, now))
            report.added += 1
        elif join is Join.CONFIRMS:  # a pending signup: the import confirms it, as add does
            confirming.append(sub.id)
            consents.append(_consent(sub.id, row, now))
            report.added += 1
            report.confirmed += 1
        elif differs:
            report.updated += 1
        else:
            report.unchanged += 1
    for key, new_id in tx.insert_subscribers(people, now).items():
        row = new_rows[key]
        tagged.extend((new_id, t) for t in (*row.tags, *every_row))
        if row.standing == "subscribed":
            joining.append(NewMembership(new_id, "subscribed", row.requested_at or now, None))
            consents.append(_consent(new_id, row, now))
            continue
        joining.append(_left(new_id, row, now))
        if row.standing in _PERSON_STATUS:
            statuses.append((new_id, _PERSON_STATUS[row.standing]))
    writes.insert_memberships(tx.conn, mlist.id, joining, now, origin.membership)
    confirm_pending(tx.conn, mlist.id, confirming, now)
    writes.unsubscribe_memberships(tx.conn, mlist.id, leaving, now)
    writes.suppress_subscribers(tx.conn, statuses, now)
    tx.update_subscribers(changes, now)
    tagging.add(tx.conn, tagged)
    report.consents += writes.insert_consents(tx.conn, mlist.id, consents, origin.consent)


def _left(subscriber_id: int, row: Row, now: datetime) -> NewMembership:
    """The membership of someone who arrives having left: when they joined (as far as the
    source knows) and when they left, in that order."""
    left = row.left_at or now
    return NewMembership(subscriber_id, "unsubscribed", min(row.requested_at or left, left), left)


def _consent(subscriber_id: int, row: Row, now: datetime) -> NewConsent:
    return NewConsent(subscriber_id, row.requested_at or now, row.confirmed_at, row.ip)


def export(
    store: Store, list_name: str, out: IO[str], fmt: ExportFormat = "csv", *, excel: bool = False
) -> int:
    """Write the people who receive a list (email, name, attributes) in a form that
    `import_csv` reads back; return how many. Two streamed passes for CSV: the first
    collects the attribute names for the header. CSV cells that a spreadsheet would run as
    a formula are escaped (see `listfile.escape_cell`); `excel` adds a BOM and CRLF."""
    if excel and fmt != "csv":
        raise InputError("--excel is for CSV; JSON Lines is always plain UTF-8")
    with store.begin(AudienceTx, write=False) as tx:
        mlist = tx.require_list(list_name)
        names: set[str] = set()
        if fmt == "csv":
            for sub in tx.members(mlist.id):
                names.update(sub.attributes)
        names.discard(tagging.TAGS_COLUMN)  # an attribute from before tags were kept apart
        tagged = tagging.any_member_tagged(tx.conn, mlist.id)
        records = _with_tags(tx, mlist.id)
        return write_rows(out, fmt, records, sorted(names), tags=tagged, excel=excel)


def _with_tags(tx: AudienceTx, list_id: int) -> Iterator[ExportRecord]:
    """The members of a list with their tags, read a page at a time."""
    page: list[Subscriber] = []
    for sub in itertools.chain(tx.members(list_id), [None]):
        if sub is not None:
            page.append(sub)
            if len(page) < 1000:
                continue
        tags = tagging.of(tx.conn, (s.id for s in page))
        for s in page:
            yield s.email, s.name, s.attributes, tags.get(s.id, [])
        page.clear()
