"""The issue as `schedule` checked and rendered it, kept as JSON with the schedule.

What was previewed is what goes out: at send time the campaign is built from this
snapshot (subject, HTML and text templates, the web version, the preheader), never from
the file as it is that day. The issue's source text is kept too, so that the `Issue`
the campaign carries (number, title, period, language) is the one that was rendered.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from pipeline.errors import NewsletterError
from pipeline.issue.build import Build
from pipeline.issue.limits import UnreadableFile, read_regular_file
from pipeline.issue.render import PersonalTemplate, Rendered
from pipeline.issue.source import Issue, read_issue

VERSION = 1


class SnapshotError(NewsletterError):
    """A stored rendering that cannot be read back (written by another version, or damaged)."""


def sha256_of(path: Path) -> str | None:
    """The file's digest now, or None when it cannot be read (moved, deleted, or no
    longer a regular file: a FIFO put in its place must not hang `schedule list`)."""
    try:
        return hashlib.sha256(read_regular_file(path)).hexdigest()
    except UnreadableFile:
        return None


def dump(rendered: Rendered, web_html: str) -> str:
    """The JSON stored in `schedules.rendered`."""
    issue = rendered.issue
    return json.dumps(
        {
            "version": VERSION,
            "subject": rendered.subject,
            "preheader": rendered.preheader,
            "html": rendered.html.source,
            "text": rendered.text.source,
            "web_url": rendered.web_url,
            "web_html": web_html,
            "issue": {"path": str(issue.path), "lang": issue.lang, "source": issue.text},
        },
        ensure_ascii=False,
    )


def load(stored: str, where: str) -> Build:
    """A Build for `campaign.plan` from the stored JSON: the stored rendering, and the
    Issue read again from the stored source text (not from today's file)."""
    try:
        data: dict[str, Any] = json.loads(stored)
        if data.get("version") != VERSION:
            raise ValueError(f"version {data.get('version')!r}")
        source = data["issue"]
        issue = _issue(str(source["source"]), Path(source["path"]), str(source["lang"]))
        rendered = Rendered(
            issue=issue,
            subject=str(data["subject"]),
            preheader=data["preheader"],
            html=PersonalTemplate(str(data["html"])),
            text=PersonalTemplate(str(data["text"])),
            web_url=str(data["web_url"]),
            web_html=str(data["web_html"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise SnapshotError(
            f"{where}: the stored rendering cannot be read ({exc})",
            hint="schedule the issue again: `newsletter schedule ISSUE --list L --at TIME`",
        ) from None
    return Build(issue.path, issue, rendered, [])


def _issue(text: str, path: Path, lang: str) -> Issue:
    """Read the stored source text as `read_issue` reads a file (it reads only files)."""
    with tempfile.TemporaryDirectory(prefix="newsletter-schedule-") as folder:
        copy = Path(folder) / (path.name or "issue.md")
        copy.write_text(text, encoding="utf-8")
        issue, problems = read_issue(copy, lang)
    if issue is None or not issue.front_matter_ok:
        first = problems[0] if problems else "unreadable"
        raise ValueError(f"the stored issue source: {first}")
    return dataclasses.replace(issue, path=path)
