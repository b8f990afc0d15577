"""The public archive of sent issues, read from the database: the same pages for the web
app (`/issues`, `/issues/N`, `/feed.xml`) and for the static site (`newsletter archive
--out DIR`); the pages themselves are built by pipeline/issue/archive.py.

Each real campaign stores its web version when it starts (`web_page`, then
`insert_web_version` in the transaction that starts it), so the archive shows what was
sent rather than what today's file would render. An issue sent before web versions were
stored is rendered from its file as it is today, the only copy there is. Dry runs are
never in the archive.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from markupsafe import Markup

from pipeline.audience import lists
from pipeline.audience.records import MailingList
from pipeline.audience.signup_form import form_html, subscribe_box
from pipeline.clock import utcnow
from pipeline.db import Store
from pipeline.db.schema import campaigns, web_versions
from pipeline.errors import InputError, NewsletterError
from pipeline.issue.archive import (
    FEED_ENTRIES,
    STATIC_ISSUES_LINKS,
    STATIC_ROOT_LINKS,
    ArchivedIssue,
    Links,
    atom_feed,
    home_page,
    index_page,
    issue_page,
)
from pipeline.issue.folder import IssueCache
from pipeline.issue.i18n import format_period
from pipeline.issue.render import Rendered, render_web
from pipeline.issue.source import Issue
from pipeline.settings import Settings

log = logging.getLogger(__name__)

# What `archive --out` writes; a folder holding anything else is not replaced.
SITE_ENTRIES = frozenset({"index.html", "feed.xml", "issues"})


def _entry(
    issue: Issue,
    html: str,
    subject: str,
    preheader: str | None,
    published: datetime,
    updated: datetime,
) -> ArchivedIssue:
    """An issue's record, from the issue itself and its web version."""
    return ArchivedIssue(
        number=issue.number,
        title=issue.title,
        subject=subject,
        preheader=preheader,
        lang=issue.lang,
        period=format_period(issue.period, issue.lang) if issue.period else None,
        html=html,
        published=published,
        updated=updated,
    )


# --- storing a campaign's web version ---------------------------------------------------


def web_page(rendered: Rendered, settings: Settings) -> ArchivedIssue:
    """The web version of `rendered` as it goes out now: the one rendered with it if there
    is one (a schedule's), else rendered now from the same issue."""
    issue = rendered.issue
    html = rendered.web_html if rendered.web_html is not None else render_web(issue, settings)
    # It goes out now; what the archive shows later is its campaign's start, read back.
    now = utcnow()
    return _entry(issue, html, rendered.subject, rendered.preheader, now, now)


def insert_web_version(
    conn: sa.Connection, campaign_id: int, issue_number: int, page: ArchivedIssue, now: datetime
) -> None:
    """Store `page` as the web version of the campaign starting at `now`; its times are
    not stored, the archive reads them back from the campaigns."""
    conn.execute(
        sa.insert(web_versions).values(
            campaign_id=campaign_id,
            issue_number=issue_number,
            title=page.title,
            subject=page.subject,
            preheader=page.preheader,
            lang=page.lang,
            period=page.period,
            html=page.html,
            stored_at=now,
        )
    )


# --- reading the archive back -----------------------------------------------------------

_REAL = sa.and_(campaigns.c.id == web_versions.c.campaign_id, campaigns.c.dry_run.is_(False))


class Archive:
    """The sent issues of one store, with the issue folder for those sent before web
    versions were stored."""

    def __init__(self, store: Store, settings: Settings, folder: Path) -> None:
        self.store = store
        self.settings = settings
        self.files = IssueCache(folder, settings)

    def _chosen(self, issue_number: int | None) -> list[tuple[int, int, datetime, datetime]]:
        """(campaign id, issue number, its start, the issue's first start) of the latest
        version of each issue, newest first."""
        query = (
            sa.select(
                web_versions.c.campaign_id,
                web_versions.c.issue_number,
                campaigns.c.started_at,
                web_versions.c.stored_at,
            )
            .join(campaigns, _REAL)
            .order_by(web_versions.c.stored_at, web_versions.c.campaign_id)
        )
        if issue_number is not None:
            query = query.where(web_versions.c.issue_number == issue_number)
        with self.store.begin(write=False) as tx:
            rows = list(tx.conn.execute(query))
        latest: dict[int, tuple[int, datetime, datetime]] = {}
        for campaign_id, number, started_at, stored_at in rows:  # oldest first
            started = started_at or stored_at
            first = latest[number][2] if number in latest else started
            latest[number] = (campaign_id, started, first)
        chosen = [(c, n, s, f) for n, (c, s, f) in latest.items()]
        # Newest first by when each issue first went out: a later send of an old issue to
        # another list does not move it up.
        return sorted(chosen, key=lambda row: (row[3], row[1]), reverse=True)

    def _stored(self, issue_number: int | None, *, with_html: bool) -> list[ArchivedIssue]:
        """The latest stored version of each issue (or of one), newest first; `with_html`:
        with the pages themselves, else only what a list of issues shows."""
        chosen = self._chosen(issue_number)
        if not chosen:
            return []
        html = web_versions.c.html if with_html else sa.literal("")
        query = sa.select(
            web_versions.c.campaign_id,
            web_versions.c.title,
            web_versions.c.subject,
            web_versions.c.preheader,
            web_versions.c.lang,
            web_versions.c.period,
            html,
        ).where(web_versions.c.campaign_id.in_([row[0] for row in chosen]))
        with self.store.begin(write=False) as tx:
            found = {row[0]: row for row in tx.conn.execute(query)}
        return [
            ArchivedIssue(number, *found[campaign_id][1:7], published=first, updated=started)
            for campaign_id, number, started, first in chosen
        ]

    def _sent_without_version(
        self, issue_number: int | None = None
    ) -> list[tuple[int, datetime, datetime]]:
        """Issues sent (not as a dry run) before web versions were stored: (number, first
        start, latest start) of each issue none of whose campaigns has a version."""
        has_version = sa.select(web_versions.c.issue_number).join(campaigns, _REAL)
        query = (
            sa.select(
                campaigns.c.issue_number,
                sa.func.min(campaigns.c.started_at),
                sa.func.max(campaigns.c.started_at),
            )
            .where(
                campaigns.c.dry_run.is_(False),
                campaigns.c.started_at.is_not(None),
                campaigns.c.issue_number.not_in(has_version),
            )
            .group_by(campaigns.c.issue_number)
        )
        if issue_number is not None:
            query = query.where(campaigns.c.issue_number == issue_number)
        with self.store.begin(write=False) as tx:
            return [(n, first, last) for n, first, last in tx.conn.execute(query)]

    def _from_file(self, number: int, first: datetime, last: datetime) -> ArchivedIssue | None:
        found = self.files.get(number)
        if found is None:
            log.warning("archive: issue %d was sent but its file cannot be read; skipped", number)
            return None
        issue = found.issue
        return _entry(issue, found.html, issue.subject, issue.preheader, first, last)

    def issues(self, *, with_html: bool = False) -> list[ArchivedIssue]:
        """Every sent issue (its latest version), newest first."""
        entries = self._stored(None, with_html=with_html)
        for number, first, last in self._sent_without_version():
            entry = self._from_file(number, first, last)
            if entry is not None:
                entries.append(entry if with_html else replace(entry, html=""))
        return sorted(entries, key=lambda e: (e.published, e.number), reverse=True)

    def issue(self, number: int) -> ArchivedIssue | None:
        """One sent issue with its page, or None when it was never sent for real."""
        for stored in self._stored(number, with_html=True):
            return stored
        for sent, first, last in self._sent_without_version(number):
            return self._from_file(sent, first, last)
        return None

    def public_lists(self) -> list[MailingList]:
        return lists.public_lists(self.store)

    def subscribe_box(self, links_home: str) -> Markup:
        """The short signup form of the archive's pages; `links_home` leads to the whole
        form on the home page."""
        return subscribe_box(self.settings, self.public_lists(), form_url=links_home)

    def home(self, links: Links) -> str:
        public = self.public_lists()
        signup = (
            Markup(form_html(self.settings, public, action=f"{self.settings.public_url}/subscribe"))
            if public
            else Markup("")
        )
        return home_page(self.issues(), self.settings, links, signup)

    def index(self, links: Links) -> str:
        box = self.subscribe_box(f"{self.settings.public_url}/#subscribe")
        return index_page(self.issues(), self.settings, links, box)

    def page(self, number: int, links: Links) -> str | None:
        entry = self.issue(number)
        if entry is None:
            return None
        listed = self.issues()  # newest first
        numbers = [e.number for e in listed]
        at = numbers.index(number) if number in numbers else None
        older = listed[at + 1] if at is not None and at + 1 < len(listed) else None
        newer = listed[at - 1] if at is not None and at > 0 else None
        return issue_page(
            entry, self.settings, links,
            subscribe=self.subscribe_box(f"{self.settings.public_url}/#subscribe"),
            previous=older, following=newer,
        )  # fmt: skip

    def feed(self, *, now: datetime | None = None) -> str:
        # Only the entries the feed carries are loaded whole: a long archive's pages stay
        # in the database.
        newest = [self.issue(e.number) for e in self.issues()[:FEED_ENTRIES]]
        entries = [e for e in newest if e is not None]
        return atom_feed(entries, self.settings, now=now or utcnow())


# --- the static site ------------------------------------------------------------------


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
    """Write the archive as files into `out`: `index.html` (the home page),
    `issues/index.html` (the list of issues, which a static host serves at
    `<public_url>/issues`), `issues/N/index.html` (served at `<public_url>/issues/N`, the
    email's "view in browser" link), and `feed.xml`.

    Everything is written into a temporary folder beside `out` first and renamed into
    place: a failure leaves `out` as it was. A symlink is followed: the folder it points
    at is replaced and the link keeps pointing there."""
    out = out.resolve() if out.is_symlink() else out.absolute()
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
        settings = archive.settings
        _write(staging, "index.html", archive.home(STATIC_ROOT_LINKS), written)
        box = archive.subscribe_box("../index.html#subscribe")
        _write(staging, "issues/index.html",
               index_page(entries, settings, STATIC_ISSUES_LINKS, box), written)  # fmt: skip
        box = archive.subscribe_box("../../index.html#subscribe")
        for at, entry in enumerate(entries):  # newest first
            older = entries[at + 1] if at + 1 < len(entries) else None
            newer = entries[at - 1] if at > 0 else None
            page = issue_page(entry, settings, STATIC_ROOT_LINKS, subscribe=box,
                              previous=older, following=newer)  # fmt: skip
            _write(staging, f"issues/{entry.number}/index.html", page, written)
        feed = atom_feed(entries, archive.settings, now=now or utcnow())
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
