"""The archive's Atom feed (RFC 4287): one entry per sent issue, newest first, with the
web version as it was sent for its content.

Written with ElementTree, which escapes text and attributes; characters XML 1.0 cannot
carry at all (most C0 controls, lone surrogates) are dropped first, since no escape would
make the document well-formed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from pipeline.issue.archive import ArchivedIssue, archive_strings
from pipeline.settings import Settings

ATOM = "http://www.w3.org/2005/Atom"
XML_LANG = "xml:lang"  # the xml: prefix is bound in every XML document
# A feed reader asks often; the newest issues are what it needs (older ones are on /issues).
FEED_ENTRIES = 20

_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BODY = re.compile(r"<body[^>]*>(.*)</body\s*>", re.IGNORECASE | re.DOTALL)


def feed_url(settings: Settings) -> str:
    return f"{settings.public_url}/feed.xml"


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
    _add(
        root, "link", rel="alternate", type="text/html", href=_text(f"{settings.public_url}/issues")
    )
    author = _add(root, "author")
    _add(author, "name", settings.name)
    for entry in entries:
        url = f"{settings.public_url}/issues/{entry.number}"
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
