"""The Atom feed builder on hostile text, read back by feedparser and by a strict XML
parser: titles with `&`, `<`, `]]>`, Korean, control characters and lone surrogates."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import feedparser
import pytest

from pipeline.issue.archive import FEED_ENTRIES, ArchivedIssue, atom_feed
from pipeline.settings import load_settings

pytestmark = pytest.mark.single_backend  # no store
ATOM = "{http://www.w3.org/2005/Atom}"
START = datetime(2024, 6, 23, 0, 0, 12, tzinfo=UTC)


def entry(number: int, title: str, preheader: str | None = "미리 보기") -> ArchivedIssue:
    moment = START + timedelta(days=7 * number)
    return ArchivedIssue(
        number=number,
        title=title,
        subject=title,
        preheader=preheader,
        lang="ko",
        period=None,
        html=f"<!DOCTYPE html><html><head><style>p {{}}</style></head>"
        f"<body><main><h1>{title.replace('&', '&amp;').replace('<', '&lt;')}</h1></main></body></html>",
        published=moment,
        updated=moment,
    )


@pytest.fixture
def settings(project):
    return load_settings()


def test_hostile_titles_come_back_exactly(settings) -> None:
    titles = ["검색 & <캐시> ]]> \"따옴표\" 'apostrophe'", "Tab\there", "plain"]
    feed = atom_feed([entry(i + 1, t) for i, t in enumerate(titles)], settings, now=START)
    ET.fromstring(feed.encode("utf-8"))  # well-formed for a strict parser
    parsed = feedparser.parse(feed.encode("utf-8"))
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    assert [e.title for e in parsed.entries] == titles
    assert "<h1>검색 &amp; &lt;캐시> ]]>" in parsed.entries[0].content[0].value
    assert "<style>" not in feed.split("<content", 1)[1]  # the body only, not the head


def test_characters_xml_cannot_carry_are_dropped_not_fatal(settings) -> None:
    feed = atom_feed([entry(1, "bell\x07 and \ud800 surrogate\x00")], settings, now=START)
    root = ET.fromstring(feed.encode("utf-8"))
    feed_title, entry_title = (t.text for t in root.iter(f"{ATOM}title"))
    assert feed_title == "Article Weekly 지난 호"
    assert entry_title == "bell and  surrogate"


def test_the_feed_carries_the_newest_entries_and_their_times(settings) -> None:
    entries = [entry(n, f"호 {n}") for n in range(FEED_ENTRIES + 5, 0, -1)]
    parsed = feedparser.parse(atom_feed(entries, settings, now=START).encode("utf-8"))
    assert len(parsed.entries) == FEED_ENTRIES
    assert parsed.entries[0].title == f"호 {FEED_ENTRIES + 5}"
    newest = entries[0].updated
    assert parsed.feed.updated == newest.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert parsed.entries[0].published == parsed.entries[0].updated
    assert parsed.feed.language == "ko"


def test_an_empty_feed_is_still_valid(settings) -> None:
    parsed = feedparser.parse(atom_feed([], settings, now=START).encode("utf-8"))
    assert parsed.bozo == 0 and parsed.entries == []
    assert parsed.feed.updated == "2024-06-23T00:00:12Z"
