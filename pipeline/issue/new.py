"""`newsletter new`: the next issue's file, started from the last one.

The next number; the period after the last issue's, of the same length; its language;
its title with the number changed; a skeleton article for each `--link` (headed by the
page's own title: Open Graph's, else `<title>`, fetched with the link check's client and
limits), or one to fill in. The file is created, never overwritten, and passes `check`.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

from pipeline import words
from pipeline.errors import InputError
from pipeline.issue.fields import Period
from pipeline.issue.links import DEFAULT_TIMEOUT, fetch_page_starts
from pipeline.issue.source import Issue, read_issue
from pipeline.settings import Settings
from pipeline.text import CONTROLS

MAX_TITLE = 200  # characters of a fetched title kept as a heading
_PLACEHOLDER_URL = "https://example.com/"


@dataclass(frozen=True)
class NewIssue:
    path: Path
    number: int
    period: Period | None
    articles: int
    notes: list[str]  # for the editor: a link whose title could not be read, and why


class _Titles(HTMLParser):
    """`og:title` and the first `<title>` of a page's beginning."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.og: str | None = None
        self.title: str | None = None
        self._in_title = False
        self._parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "meta" and self.og is None and values.get("property") == "og:title":
            self.og = values.get("content") or None
        elif tag == "title" and self.title is None:
            self._in_title = True

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._parts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            self.title = "".join(self._parts)


def page_title(document: str) -> str | None:
    """A page's title for a heading: its Open Graph title, else its `<title>`; one line
    of visible text, at most MAX_TITLE characters; None when it has neither."""
    parser = _Titles()
    parser.feed(document)
    for found in (parser.og, parser.title):
        text = " ".join(CONTROLS.sub(" ", html.unescape(found or "")).split())
        if text:
            return text if len(text) <= MAX_TITLE else text[: MAX_TITLE - 1] + "…"
    return None


def _heading(title: str, url: str) -> str:
    """`## [title](url)` with the title's Markdown escaped and the URL kept whole."""
    text = re.sub(r"([\\[\]`*_<>])", r"\\\1", title)
    target = f"<{url}>" if re.search(r"[\s()]", url) else url
    return f"## [{text}]({target})"


def _checked_link(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or re.search(r"[\s<>]", url):
        raise InputError(
            f"--link {url!r} is not an http(s) URL",
            hint="give the article's address, like https://example.com/post",
        )
    return url


def last_issue(folder: Path, lang: str) -> Issue | None:
    """The issue in `folder` with the highest number (a file that cannot be read is
    skipped, as `check` skips it)."""
    newest: Issue | None = None
    for path in sorted(folder.glob("*.md")):
        try:
            issue, _ = read_issue(path, lang)
        except OSError:
            continue
        if (
            issue is not None
            and issue.front_matter_ok
            and (newest is None or issue.number > newest.number)
        ):
            newest = issue
    return newest


def _next_period(period: Period | None) -> Period | None:
    if period is None:
        return None
    start = period.end + timedelta(days=1)
    return Period(start, start + (period.end - period.start))


def _renumbered(text: str, old: int, new: int) -> str | None:
    """`text` with the number `old` (as a whole number) changed to `new`; None when it
    does not hold it once."""
    pattern = re.compile(rf"(?<![0-9]){old}(?![0-9])")
    if len(pattern.findall(text)) != 1:
        return None
    return pattern.sub(str(new), text)


def _file_name(last: Issue | None, number: int, period: Period | None, name: str) -> str:
    """The last file's name with its date and number changed, else `DATE-NAME-N.md`."""
    if last is not None:
        stem = last.path.name
        if last.period is not None and period is not None:
            stem = stem.replace(last.period.end.isoformat(), period.end.isoformat())
        renamed = _renumbered(stem, last.number, number)
        if renamed is not None and renamed != last.path.name:
            return renamed
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "issue"
    day = f"{period.end.isoformat()}-" if period else ""
    return f"{day}{slug}-{number}.md"


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def new_issue(
    folder: Path,
    settings: Settings,
    links: list[str],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    verify: bool = True,
) -> NewIssue:
    """Write the next issue's file in `folder`; InputError if it exists already."""
    urls = [_checked_link(url) for url in links]
    last = last_issue(folder, settings.lang)
    number = last.number + 1 if last else 1
    period = _next_period(last.period if last else None)
    lang = last.lang if last else settings.lang
    title = (_renumbered(last.title, last.number, number) if last else None) or (
        f"{settings.name} #{number}"
    )
    path = folder / _file_name(last, number, period, settings.name)
    notes: list[str] = []
    articles: list[str] = []
    starts = fetch_page_starts(urls, timeout=timeout, verify=verify) if urls else {}
    for url in urls:
        start = starts[url]
        heading = page_title(start.text) if start.text is not None else None
        if heading is None:
            why = start.problem or "the page has no title"
            notes.append(f"{url}: {why}; its heading is the address, change it")
        articles.append(f"{_heading(heading or url, url)}\n- {words.text(lang, 'new.summary')}\n")
    if not articles:
        article = words.text(lang, "new.article")
        articles.append(
            f"{_heading(article, _PLACEHOLDER_URL)}\n- {words.text(lang, 'new.summary')}\n"
        )
    head = [f"title: {_quoted(title)}", f"number: {number}"]
    if period is not None:
        head.append(f"period: {{start: {period.start.isoformat()}, end: {period.end.isoformat()}}}")
    head.append(f"lang: {lang}")
    text = "---\n" + "\n".join(head) + "\n---\n" + words.text(lang, "new.intro") + "\n\n"
    text += "\n".join(articles)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with path.open("x", encoding="utf-8", newline="\n") as out:
            out.write(text)
    except FileExistsError:
        raise InputError(
            f"{path} exists already; nothing was written",
            hint="edit it, or move it away to start over",
        ) from None
    return NewIssue(path, number, period, len(articles), notes)
