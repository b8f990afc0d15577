"""Web versions of sent issues (`GET /issues/N`), read from the issue folder."""

from __future__ import annotations

import logging
import os
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from pipeline.issue.frontmatter import front_matter_number
from pipeline.issue.limits import MAX_FILE_BYTES
from pipeline.issue.render import render_web
from pipeline.issue.source import Issue, read_issue
from pipeline.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FolderIssue:
    """An issue file as it is today, and its web version rendered from it."""

    issue: Issue
    html: str


class IssueCache:
    """Web versions of issues by number. Each file is read again only when it changes,
    so a request does not parse the whole folder.

    One broken file never affects another: a file that is not a regular file (a FIFO would
    block the reader forever), is too large, or fails to read or render in any way is
    logged once and skipped until it changes; the other issues are served as before."""

    def __init__(self, folder: Path, settings: Settings) -> None:
        self.folder = folder
        self.settings = settings
        # path -> (modification stamp, issue number or None, rendered issue or None)
        self._files: dict[Path, tuple[int, int | None, FolderIssue | None]] = {}
        self._lock = threading.Lock()

    def _read_number(self, path: Path, info: os.stat_result) -> int | None:
        if not stat.S_ISREG(info.st_mode):
            log.warning("issue folder: %s skipped: not a regular file", path)
            return None
        if info.st_size > MAX_FILE_BYTES:  # what `check` accepts; a bigger file is not opened
            log.warning("issue folder: %s skipped: larger than %d bytes", path, MAX_FILE_BYTES)
            return None
        # Reads the front matter only (bounded, never raises): the whole issue is read
        # only for the one file a request asks for.
        number = front_matter_number(path)
        if number is None:
            log.info("issue folder: %s has no readable issue number", path)
        return number

    def _number(self, path: Path, info: os.stat_result, stamp: int) -> int | None:
        with self._lock:
            known = self._files.get(path)
        if known and known[0] == stamp:
            return known[1]
        number = self._read_number(path, info)
        with self._lock:
            self._files[path] = (stamp, number, None)
        return number

    def _render(self, path: Path) -> FolderIssue | None:
        try:
            issue, _ = read_issue(path, self.settings.lang)
            if issue is None or not issue.front_matter_ok:
                return None
            return FolderIssue(issue, render_web(issue, self.settings))
        except Exception:  # a guard, as in _read_number
            log.exception("issue folder: %s: its web version failed to render", path)
            return None

    def get(self, number: int) -> FolderIssue | None:
        for path in sorted(self.folder.glob("*.md")):
            try:
                info = path.stat()
            except OSError:
                continue
            stamp = info.st_mtime_ns + info.st_size
            if self._number(path, info, stamp) != number:
                continue
            with self._lock:
                cached = self._files[path][2]
            if cached is not None:
                return cached
            document = self._render(path)
            with self._lock:
                # A failed render forgets the number: the file is skipped until it changes.
                self._files[path] = (stamp, number if document else None, document)
            if document is not None:
                return document
        return None
