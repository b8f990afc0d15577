"""The archive's pages, built from sent issues: the list of every issue, and each issue's
web version with its feed link. Pure functions of plain data (no database, no web
framework), so the web app and the static site (`newsletter archive --out`) serve the
same bytes; only where the links point differs (`Links`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
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
        archive = html.escape(f"{settings.public_url}/issues")
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
