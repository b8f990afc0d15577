"""The archive's pages, built from sent issues: the list of every issue, each issue's web
version with its feed link, and the Atom feed (RFC 4287). Pure functions of plain data (no
database, no web framework), so the web app and the static site (`newsletter archive
--out`) serve the same bytes; only where the links point differs (`Links`).

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

from pipeline.issue.i18n import format_date, strings
from pipeline.settings import Settings

ARCHIVE_STRINGS: dict[str, dict[str, str]] = {
    "ko": {
        "all_issues": "지난 호 모두 보기",
        "index_title": "{name} 지난 호",
        "intro": "지금까지 보내 드린 {name} 뉴스레터입니다. "
        "새 호는 {feed}로도 받아 보실 수 있습니다.",
        "feed": "Atom 피드",
        "empty": "아직 보낸 호가 없습니다.",
        "sent_on": "{date} 발송",
    },
    "en": {
        "all_issues": "All issues",
        "index_title": "{name}: all issues",
        "intro": "Every issue of {name} sent so far. New issues also arrive by {feed}.",
        "feed": "Atom feed",
        "empty": "No issue has been sent yet.",
        "sent_on": "Sent {date}",
    },
}


def archive_strings(lang: str) -> dict[str, str]:
    """The archive's words in a language; unknown languages fall back to English."""
    return ARCHIVE_STRINGS.get(lang.split("-")[0].lower(), ARCHIVE_STRINGS["en"])


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
    the web app's URLs (`/issues`, `/issues/N`, `/feed.xml`, below any path prefix of
    `public_url`) and as files (`index.html`, `issues/N/index.html`, `feed.xml`)."""

    issue: Callable[[int], str]  # from the index to an issue
    feed: str  # from the index to the feed
    feed_from_issue: str  # from an issue's page to the feed
    index_from_issue: str | None = None  # replaces the web version's absolute archive link


# The web app: the index is `/issues`, so `issues/25` resolves to `/issues/25`.
WEB_APP_LINKS = Links(lambda n: f"issues/{n}", "feed.xml", "../feed.xml")
# Files: every link names its file, so they work from file:// as from any static host.
STATIC_ROOT_LINKS = Links(
    lambda n: f"issues/{n}/index.html", "feed.xml", "../../feed.xml", "../../index.html"
)
# `issues/index.html` answers `<public_url>/issues` on a static host.
STATIC_ISSUES_LINKS = Links(lambda n: f"{n}/index.html", "../feed.xml", "../../feed.xml")

_HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)

_PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="alternate" type="application/atom+xml" title="{feed_title}" href="{feed_href}">
<style>
body {{ font-family: -apple-system, BlinkMacSystemFont, 'Apple SD Gothic Neo', 'Malgun Gothic',
  'Noto Sans KR', 'Segoe UI', Roboto, Helvetica, Arial, sans-serif; margin: 0;
  background: #f3f4f6; color: #1f2328; line-height: 1.6; word-break: keep-all;
  overflow-wrap: anywhere; }}
main {{ max-width: 40rem; margin: 0 auto; padding: 2rem 1.25rem 3rem; }}
h1 {{ font-size: 1.75rem; line-height: 1.3; margin: 0 0 .5rem; }}
ol {{ list-style: none; margin: 1.5rem 0 0; padding: 0; }}
li {{ background: #fff; border-radius: .5rem; padding: 1rem 1.25rem; margin: 0 0 1rem; }}
h2 {{ font-size: 1.2rem; line-height: 1.4; margin: 0 0 .25rem; }}
h2 a {{ color: #1f2328; }}
a {{ color: #0b57d0; }}
a:focus-visible {{ outline: 3px solid #0b57d0; outline-offset: 2px; }}
.meta {{ color: #57606a; font-size: .9rem; margin: 0 0 .25rem; }}
.preheader {{ margin: 0; }}
footer {{ max-width: 40rem; margin: 0 auto; padding: 0 1.25rem 2rem; color: #57606a;
  font-size: .8rem; text-align: center; }}
@media (prefers-color-scheme: dark) {{
  body {{ background: #15171a; color: #e6e8eb; }}
  li {{ background: #1f2226; }}
  h2 a {{ color: #e6e8eb; }}
  a {{ color: #8ab4f8; }}
  .meta, footer {{ color: #a8b0b9; }}
}}
</style></head>
<body><main>
<h1>{title}</h1>
<p>{intro}</p>
{items}
</main>
<footer>{postal_address}</footer>
</body></html>
"""


def local_day(moment: datetime, settings: Settings) -> datetime:
    """`moment` in the newsletter's time zone (the `timezone` setting, else UTC): the date
    a reader in that zone saw it arrive."""
    return moment.astimezone(ZoneInfo(settings.timezone)) if settings.timezone else moment


def _item(entry: ArchivedIssue, settings: Settings, links: Links, page_lang: str) -> str:
    esc = html.escape
    issue_label = strings(entry.lang)["issue_label"].format(number=entry.number)
    sent = local_day(entry.published, settings)
    day = f'<time datetime="{sent:%Y-%m-%d}">{esc(format_date(sent.date(), entry.lang))}</time>'
    meta = [esc(issue_label)]
    if entry.period:
        meta.append(esc(entry.period))
    meta.append(esc(archive_strings(entry.lang)["sent_on"]).format(date=day))
    # The language of each part (WCAG 3.1.2) where an issue is not in the site's language.
    lang = f' lang="{esc(entry.lang)}"' if entry.lang != page_lang else ""
    preheader = f'\n<p class="preheader">{esc(entry.preheader)}</p>' if entry.preheader else ""
    return (
        f"<li{lang}><article>\n"
        f'<h2><a href="{esc(links.issue(entry.number))}">{esc(entry.title)}</a></h2>\n'
        f'<p class="meta">{" · ".join(meta)}</p>{preheader}\n'
        "</article></li>"
    )


def index_page(entries: list[ArchivedIssue], settings: Settings, links: Links) -> str:
    """The list of every sent issue, newest first, as one HTML document."""
    lang = settings.lang
    words = archive_strings(lang)
    esc = html.escape
    title = words["index_title"].format(name=settings.name)
    feed_link = f'<a href="{esc(links.feed)}">{esc(words["feed"])}</a>'
    intro = esc(words["intro"]).format(name=esc(settings.name), feed=feed_link)
    if entries:
        items = "<ol>\n" + "\n".join(_item(e, settings, links, lang) for e in entries) + "\n</ol>"
    else:
        items = f"<p>{esc(words['empty'])}</p>"
    return _PAGE.format(
        lang=esc(lang),
        title=esc(title),
        feed_title=esc(settings.name),
        feed_href=esc(links.feed),
        intro=intro,
        items=items,
        postal_address=esc(settings.postal_address),
    )


def issue_page(entry: ArchivedIssue, settings: Settings, links: Links) -> str:
    """The web version as it was sent, with the feed's autodiscovery link in its head;
    for files, its link to the archive points at the file next to it."""
    document = entry.html
    if links.index_from_issue is not None:
        archive = html.escape(archive_url(settings))
        document = document.replace(
            f'href="{archive}"', f'href="{html.escape(links.index_from_issue)}"'
        )
    feed = (
        '<link rel="alternate" type="application/atom+xml" '
        f'title="{html.escape(settings.name)}" href="{html.escape(links.feed_from_issue)}">'
    )
    head_end = _HEAD_END.search(document)
    if head_end is None:  # not a document render_web made; served as it is
        return document
    return document[: head_end.start()] + feed + document[head_end.start() :]


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
    _add(root, "title", archive_strings(settings.lang)["index_title"].format(name=settings.name))
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
