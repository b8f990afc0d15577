"""The public archive of sent issues: the same pages for the web app (`/issues`,
`/issues/N`, `/feed.xml`) and for the static site (`newsletter archive --out DIR`).

An issue's page is its web version as stored when its campaign started; an issue sent
before web versions were stored is rendered from its file as it is today, the only copy
there is. Dry runs are never in the archive.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from pipeline.audience.store import Store
from pipeline.delivery.webversions import WebVersion, WebVersions
from pipeline.errors import InputError, NewsletterError
from pipeline.issue.archive import (
    STATIC_ISSUES_LINKS,
    STATIC_ROOT_LINKS,
    ArchivedIssue,
    Links,
    index_page,
    issue_page,
)
from pipeline.issue.feed import FEED_ENTRIES, atom_feed
from pipeline.issue.folder import IssueCache
from pipeline.issue.i18n import format_period
from pipeline.settings import Settings

log = logging.getLogger(__name__)

# What `archive --out` writes; a folder holding anything else is not replaced.
SITE_ENTRIES = frozenset({"index.html", "feed.xml", "issues"})


def _stored(version: WebVersion) -> ArchivedIssue:
    page = version.page
    return ArchivedIssue(
        number=version.issue_number,
        title=page.title,
        subject=page.subject,
        preheader=page.preheader,
        lang=page.lang,
        period=page.period,
        html=page.html,
        published=version.first_started_at,
        updated=version.started_at,
    )


class Archive:
    """The sent issues of one store, with the issue folder for those sent before web
    versions were stored."""

    def __init__(self, store: Store, settings: Settings, folder: Path) -> None:
        self.settings = settings
        self.versions = WebVersions(store)
        self.files = IssueCache(folder, settings)

    def _from_file(self, number: int, first: datetime, last: datetime) -> ArchivedIssue | None:
        found = self.files.get(number)
        if found is None:
            log.warning("archive: issue %d was sent but its file cannot be read; skipped", number)
            return None
        issue = found.issue
        return ArchivedIssue(
            number=number,
            title=issue.title,
            subject=issue.subject,
            preheader=issue.preheader,
            lang=issue.lang,
            period=format_period(issue.period, issue.lang) if issue.period else None,
            html=found.html,
            published=first,
            updated=last,
        )

    def issues(self, *, with_html: bool = False) -> list[ArchivedIssue]:
        """Every sent issue (its latest version), newest first."""
        entries = [_stored(v) for v in self.versions.latest(with_html=with_html)]
        for number, first, last in self.versions.sent_without_version():
            entry = self._from_file(number, first, last)
            if entry is not None:
                entries.append(entry if with_html else replace(entry, html=""))
        return sorted(entries, key=lambda e: (e.published, e.number), reverse=True)

    def issue(self, number: int) -> ArchivedIssue | None:
        """One sent issue with its page, or None when it was never sent for real."""
        version = self.versions.of_issue(number)
        if version is not None:
            return _stored(version)
        for sent, first, last in self.versions.sent_without_version(number):
            return self._from_file(sent, first, last)
        return None

    def index(self, links: Links) -> str:
        return index_page(self.issues(), self.settings, links)

    def page(self, number: int, links: Links) -> str | None:
        entry = self.issue(number)
        return issue_page(entry, self.settings, links) if entry else None

    def feed(self, *, now: datetime | None = None) -> str:
        # Only the entries the feed carries are loaded whole: a long archive's pages stay
        # in the database.
        newest = [self.issue(e.number) for e in self.issues()[:FEED_ENTRIES]]
        entries = [e for e in newest if e is not None]
        return atom_feed(entries, self.settings, now=now or datetime.now(UTC))


@dataclass(frozen=True)
class WrittenSite:
    folder: Path
    files: list[Path]  # relative to `folder`
    issues: int
    replaced: bool  # an earlier archive was in the folder


def _check_target(out: Path) -> bool:
    """Whether `out` holds an earlier archive to replace; refuses anything else."""
    if not out.exists():
        return False
    if not out.is_dir():
        raise InputError(
            f"{out} exists and is not a folder", hint="give --out a new or archive folder"
        )
    foreign = sorted(p.name for p in out.iterdir() if p.name not in SITE_ENTRIES)
    if foreign:
        shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise InputError(
            f"{out} holds files the archive did not write ({shown}); it is not replaced",
            hint="give --out a new folder, or one an earlier `newsletter archive` wrote",
        )
    return any(out.iterdir())


def _write(folder: Path, relative: str, text: str, written: list[Path]) -> None:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")
    written.append(Path(relative))


def write_site(archive: Archive, out: Path, *, now: datetime | None = None) -> WrittenSite:
    """Write the archive as files into `out`: `index.html` (and `issues/index.html`, which
    a static host serves at `<public_url>/issues`), `issues/N/index.html` (served at
    `<public_url>/issues/N`, the email's "view in browser" link), and `feed.xml`.

    Everything is written into a temporary folder beside `out` first and renamed into
    place: a failure leaves `out` as it was."""
    out = out.absolute()
    replaced = _check_target(out)
    entries = archive.issues(with_html=True)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as exc:
        raise NewsletterError(
            f"cannot write beside {out}: {exc.strerror}", hint="check the folder's permissions"
        ) from None
    written: list[Path] = []
    try:
        umask = os.umask(0)
        os.umask(umask)
        staging.chmod(0o777 & ~umask)  # mkdtemp makes it private; a site is for the web
        _write(
            staging, "index.html", index_page(entries, archive.settings, STATIC_ROOT_LINKS), written
        )
        _write(staging, "issues/index.html",
               index_page(entries, archive.settings, STATIC_ISSUES_LINKS), written)  # fmt: skip
        for entry in entries:
            _write(staging, f"issues/{entry.number}/index.html",
                   issue_page(entry, archive.settings, STATIC_ROOT_LINKS), written)  # fmt: skip
        feed = atom_feed(entries, archive.settings, now=now or datetime.now(UTC))
        _write(staging, "feed.xml", feed, written)
        _swap(staging, out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise NewsletterError(
            f"cannot write the archive to {out}: {exc.strerror or exc}",
            hint="check the folder's permissions and free space; nothing was changed",
        ) from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return WrittenSite(out, written, len(entries), replaced)


def _swap(staging: Path, out: Path) -> None:
    """Put `staging` where `out` is: a rename each, so `out` is always a whole archive
    (or, for the moment between the two renames, absent)."""
    if not out.exists():
        staging.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
    old.rmdir()
    out.rename(old)
    try:
        staging.rename(out)
    except OSError:
        old.rename(out)  # put the earlier archive back
        raise
    shutil.rmtree(old, ignore_errors=True)
