"""The archive's pages, built from sent issues: the list of every issue, each issue's web
version with its feed link, and the Atom feed (RFC 4287). Pure functions of plain data (no
database, no web framework), so the web app and the static site (`newsletter archive
--out`) serve the same bytes; only where the links point differs (`Links`). The two pages
are templates (`templates/web/archive_index.html.j2`, `archive_issue.html.j2`), which a
project may override, with the catalogue's words (`archive.*`), as the feed has too.

The feed is written with ElementTree, which escapes text and attributes; characters XML
1.0 cannot carry at all (most C0 controls, lone surrogates) are dropped first, since no
escape would make the document well-formed.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup

from pipeline import words
from pipeline.issue.i18n import format_date
from pipeline.settings import Settings
from pipeline.words import templates


def archive_url(settings: Settings) -> str:
    """The list of every sent issue, linked from each web version."""
    return f"{settings.public_url}/issues"


def issue_url(number: int, settings: Settings) -> str:
    """An issue's web version: the emails' "view in browser" link."""
    return f"{settings.public_url}/issues/{number}"


def feed_url(settings: Settings) -> str:
    return f"{settings.public_url}/feed.xml"


@dataclass(frozen=True)
class ArchivedIssue:
    """One sent issue as the archive shows it: the web version as it was sent."""

    number: int
    title: str
    subject: str
    preheader: str | None
    lang: str
    period: str | None  # as the issue shows it, in its language
    html: str  # the whole web version, a complete HTML document ("" when not loaded)
    published: datetime  # when its first campaign started
    updated: datetime  # when the campaign whose version this is started


@dataclass(frozen=True)
class Links:
    """Where a page's links point, relative to the page itself: the same pages work under
    the web app's URLs (`/`, `/issues`, `/issues/N`, `/feed.xml`, below any path prefix of
    `public_url`) and as files (`index.html`, `issues/index.html`, `issues/N/index.html`,
    `feed.xml`)."""

    issue: Callable[[int], str]  # from the index (or the home page) to an issue
    feed: str  # from the index to the feed
    feed_from_issue: str  # from an issue's page to the feed
    index_from_issue: str | None = None  # replaces the web version's absolute archive link
    archive: str = "issues"  # from the home page to the index
    issue_from_issue: Callable[[int], str] = str  # from an issue's page to another


# The web app: the index is `/issues`, so `issues/25` resolves to `/issues/25`, from `/`
# as from `/issues`; from `/issues/25`, `24` is `/issues/24`.
WEB_APP_LINKS = Links(lambda n: f"issues/{n}", "feed.xml", "../feed.xml")
# Files: every link names its file, so they work from file:// as from any static host.
# `index.html` is the home page; an issue's archive link leads to `issues/index.html`.
STATIC_ROOT_LINKS = Links(
    lambda n: f"issues/{n}/index.html",
    "feed.xml",
    "../../feed.xml",
    "../index.html",
    "issues/index.html",
    lambda n: f"../{n}/index.html",
)
# `issues/index.html` answers `<public_url>/issues` on a static host.
STATIC_ISSUES_LINKS = Links(lambda n: f"{n}/index.html", "../feed.xml", "../../feed.xml")


@dataclass(frozen=True)
class Share:
    """What a shared link to a page shows (Open Graph, Twitter cards), and its canonical
    URL (`templates/web/share.html.j2`)."""

    title: str
    description: str
    url: str
    image: str | None
    kind: str = "website"


_FIRST_IMAGE = re.compile(r'<img\b[^>]*?\bsrc="(https://[^"]+)"')


def first_image(document: str, settings: Settings) -> str | None:
    """An issue's first image for its share preview, else the logo."""
    for found in _FIRST_IMAGE.finditer(document):
        src = html.unescape(found.group(1))
        if src != settings.theme.logo:
            return src
    return settings.theme.logo


_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)


def local_day(moment: datetime, settings: Settings) -> datetime:
    """`moment` in the newsletter's time zone (the `timezone` setting, else UTC): the date
    a reader in that zone saw it arrive."""
    return moment.astimezone(ZoneInfo(settings.timezone)) if settings.timezone else moment


@dataclass(frozen=True)
class _Listed:
    """An issue as the index lists it: with the day it arrived where the newsletter is."""

    issue: ArchivedIssue
    day: str  # YYYY-MM-DD, for the <time> element
    day_text: str  # that day in the issue's language


def _listed(entries: list[ArchivedIssue], settings: Settings) -> list[_Listed]:
    listed = []
    for entry in entries:
        sent = local_day(entry.published, settings).date()
        listed.append(_Listed(entry, sent.isoformat(), format_date(sent, entry.lang)))
    return listed


def home_page(
    entries: list[ArchivedIssue], settings: Settings, links: Links, signup: Markup
) -> str:
    """The home page: name, logo, description, the signup form (`signup`, empty when no
    list is open) and the newest issues (`templates/web/home.html.j2`)."""
    brand = templates.Brand.of(settings)
    share = Share(settings.name, settings.theme.description, brand.home_url, settings.theme.logo)
    return templates.render(
        "web/home.html.j2",
        settings.lang,
        brand=brand,
        name=settings.name,
        share=share,
        postal_address=settings.postal_address,
        links=links,
        listed=_listed(entries[:HOME_ENTRIES], settings),
        signup=signup,
    )


HOME_ENTRIES = 5  # the newest issues on the home page; the rest are on /issues


def index_page(
    entries: list[ArchivedIssue],
    settings: Settings,
    links: Links,
    subscribe: Markup = Markup(""),
) -> str:
    """The list of every sent issue, newest first, as one HTML document
    (`templates/web/archive_index.html.j2`), with the short signup form (`subscribe`)."""
    title = words.text(settings.lang, "archive.index_title", name=settings.name)
    description = settings.theme.description or title
    share = Share(title, description, archive_url(settings), settings.theme.logo)
    return templates.render(
        "web/archive_index.html.j2",
        settings.lang,
        brand=templates.Brand.of(settings),
        name=settings.name,  # what templates overridden before `brand` existed use
        share=share,
        postal_address=settings.postal_address,
        links=links,
        listed=_listed(entries, settings),
        subscribe=subscribe,
    )


_MAIN_END = re.compile(r"</main\s*>|</body\s*>", re.IGNORECASE)


def issue_page(
    entry: ArchivedIssue,
    settings: Settings,
    links: Links,
    *,
    subscribe: Markup = Markup(""),
    previous: ArchivedIssue | None = None,
    following: ArchivedIssue | None = None,
) -> str:
    """The web version as it was sent, with its share tags and the feed's autodiscovery
    link in its head, and after the issue the short signup form and the links to the
    issues sent before and after it (`templates/web/archive_issue.html.j2`); for files,
    its link to the archive points at the file next to it."""
    document = entry.html
    if links.index_from_issue is not None:
        archive = html.escape(archive_url(settings))
        document = document.replace(
            f'href="{archive}"', f'href="{html.escape(links.index_from_issue)}"'
        )
    head_end = _HEAD_END.search(document)
    if head_end is None:  # not a document render_web made; served as it is
        return document
    main_end = _MAIN_END.search(document, head_end.end())
    split = main_end.start() if main_end else len(document)
    share = Share(
        entry.title,
        entry.preheader or settings.theme.description,
        issue_url(entry.number, settings),
        first_image(document, settings),
        "article",
    )

    def neighbour(other: ArchivedIssue | None) -> tuple[str, str] | None:
        return (links.issue_from_issue(other.number), other.title) if other else None

    return templates.render(
        "web/archive_issue.html.j2",
        entry.lang,
        brand=templates.Brand.of(settings),
        share=share,
        links=links,
        # The document is markup already (render_web escaped its values).
        head=Markup(document[: head_end.start()]),
        body=Markup(document[head_end.start() : split]),
        rest=Markup(document[split:]),
        subscribe=subscribe,
        previous=neighbour(previous),
        next=neighbour(following),
    )


# --- the feed --------------------------------------------------------------------------

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "xml:lang"  # the xml: prefix is bound in every XML document
# A feed reader asks often; the newest issues are what it needs (older ones are on /issues).
FEED_ENTRIES = 20

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BODY = re.compile(r"<body[^>]*>(.*)</body\s*>", re.IGNORECASE | re.DOTALL)


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _add(parent: ET.Element, tag: str, text: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if text is not None:
        element.text = _text(text)
    return element


def body_of(document: str) -> str:
    """What a feed reader shows of a web version: its body (styles are inlined there);
    the head's `<style>` and `<title>` would only be dropped by the reader's sanitiser."""
    found = _BODY.search(document)
    return found.group(1).strip() if found else document


def atom_feed(entries: list[ArchivedIssue], settings: Settings, *, now: datetime) -> str:
    """The feed of `entries` (newest first; the first FEED_ENTRIES are kept). `now` is the
    feed's updated time only while nothing has been sent."""
    entries = entries[:FEED_ENTRIES]
    # Plain names under a default namespace declared by hand: ElementTree would otherwise
    # write a prefix on every element, which some readers mishandle.
    root = ET.Element("feed", {"xmlns": ATOM, XML_LANG: settings.lang})
    self_url = feed_url(settings)
    _add(root, "id", self_url)
    _add(root, "title", words.text(settings.lang, "archive.index_title", name=settings.name))
    updated = max((e.updated for e in entries), default=now)
    _add(root, "updated", rfc3339(updated))
    _add(root, "link", rel="self", type="application/atom+xml", href=_text(self_url))
    _add(root, "link", rel="alternate", type="text/html", href=_text(archive_url(settings)))
    author = _add(root, "author")
    _add(author, "name", settings.name)
    for entry in entries:
        url = issue_url(entry.number, settings)
        item = _add(root, "entry", **{XML_LANG: entry.lang})
        # The issue's URL: an issue number names one issue for good (`check` keeps them apart).
        _add(item, "id", url)
        _add(item, "title", entry.title, type="text")
        _add(item, "updated", rfc3339(entry.updated))
        _add(item, "published", rfc3339(entry.published))
        _add(item, "link", rel="alternate", type="text/html", href=_text(url))
        if entry.preheader:
            _add(item, "summary", entry.preheader, type="text")
        _add(item, "content", body_of(entry.html), type="html")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
