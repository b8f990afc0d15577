"""Which caniemail features an email's HTML uses, and in what context (see `compat` for how
each context is judged).

One walk over the parsed document yields `Use`s: a feature, the element it is on, whether
it sits in a media query, whether it decides the layout, and the clients it cannot reach
(content hidden from them, or an element that Outlook replaces with its own fallback).
Identical uses collapse, so a style repeated on 40 cells is one use.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

import lxml.html  # type: ignore[import-untyped]
from lxml import etree

from pipeline.issue import compat_css
from pipeline.issue.compat_data import Feature
from pipeline.issue.compat_tables import (
    ATTRIBUTES,
    CONTENT_FEATURES,
    DEFAULT_DISPLAY,
    ELEMENTS,
    FUNCTION,
    FUNCTIONS,
    IMAGE_TYPES,
    INITIAL,
    LAYOUT_PROPERTIES,
    PAIRS,
    SHORTHANDS,
    UNIT,
    URL,
)

OUTLOOK = "outlook.windows"
NOBODY: frozenset[str] = frozenset()

MEMOS: dict[int, dict[object, tuple[tuple[Use, ...], frozenset[str], frozenset[str]]]] = {}
_MEMO_LIMIT = 20_000


class Use(NamedTuple):  # a tuple: hashed in C, and there are thousands per document
    slug: str
    layout: bool  # decides the layout or whether content shows
    media: bool  # applies only where a media query (or a pseudo-class state) holds
    tag: str  # the element, "" for a rule of a <style> block
    value: str  # what the feature was given, e.g. "display:block", to test a note against
    unreached: frozenset[str] = NOBODY  # clients that never see this use


@functools.cache
def property_slugs(features: tuple[str, ...]) -> dict[str, str]:
    """CSS property name -> feature slug, for properties caniemail files by their name."""
    found = {slug[4:]: slug for slug in features if slug.startswith("css-")}
    found.update(
        {
            "color-scheme": "css-color-scheme",
            "font": "css-font",
            "column-gap": "css-gap",
            "row-gap": "css-gap",
            "gap": "css-gap",
            "inline-size": "css-inline-size",
            "block-size": "css-block-inline-size",
            **dict.fromkeys(("top", "right", "bottom", "left"), "css-left-right-top-bottom"),
            **dict.fromkeys(
                ("grid-template", "grid-template-columns", "grid-template-rows"),
                "css-grid-template",
            ),
            **dict.fromkeys(
                ("columns", "column-width", "column-rule", "column-span", "column-fill"),
                "css-column-layout-properties",
            ),
        }
    )
    return {name: slug for name, slug in found.items() if slug in features}


def image_slug(url: str) -> str | None:
    url = url.strip().lower()
    if url.startswith("data:"):
        return "image-base64"
    match = re.search(r"\.([a-z0-9]+)(?:[?#]|$)", url.split("//", 1)[-1].split("/", 1)[-1])
    kind = IMAGE_TYPES.get(match.group(1)) if match else None
    return f"image-{kind}" if kind else None


def is_noop(name: str, value: str, tag: str) -> bool:
    """A declaration that leaves things as they are: ignoring it changes nothing."""
    word = value.lower().replace("!important", "").strip()
    if name == "display":
        return tag in DEFAULT_DISPLAY.get(word, ())
    return name in LAYOUT_PROPERTIES and word in INITIAL


def declaration_slugs(name: str, value: str, known: dict[str, str]) -> Iterator[str]:
    """The features one declaration uses: its property (or property:value) and its value's
    functions, units, keywords and images. Vendor properties (mso-, -webkit-) have none."""
    if name.startswith("--"):
        yield "css-variables"
        return
    if name.startswith(("mso-", "-")):
        return
    word = value.lower().replace("!important", "").strip()
    pair = PAIRS.get((name, word))
    if pair:
        yield pair
    elif name in known:
        yield known[name]
    else:
        for shorthand in SHORTHANDS:
            if name.startswith(shorthand + "-") and shorthand in known:
                yield known[shorthand]
                break
    lowered = value.lower()
    if "!important" in lowered:
        yield "css-important"
    for function in set(FUNCTION.findall(lowered)):
        if function in FUNCTIONS:
            yield FUNCTIONS[function]
    for unit in {m.group(1) for m in UNIT.finditer(lowered)}:
        yield "css-unit-percent" if unit == "%" else f"css-unit-{unit}"
    if re.search(r"\b(fit|min|max)-content\b", lowered):
        yield "css-intrinsic-size"
    if name == "font-family" and re.search(r"\b(system-ui|ui-[a-z]+)\b", lowered):
        yield "css-sytem-ui"
    for url in URL.findall(value):
        image = image_slug(url)
        if image:
            yield image


def _conditional(comment: str) -> str:
    """'mso' for `<!--[if mso]>` fallbacks, '!mso' for content Outlook skips, else ''."""
    text = comment.strip().lower()
    if text.startswith("[if !mso"):
        return "!mso"
    if text.startswith("[if") and "mso" in text and ("<table" in text or "<td" in text):
        return "mso"
    return ""


def _has_background_colour(
    style: tuple[compat_css.Declaration, ...], element: etree._Element
) -> bool:
    if element.get("bgcolor"):
        return True
    for name, value in style:
        if name == "background-color":
            return True
        if name == "background" and re.search(r"#[0-9a-f]{3}|\brgba?\(|^[a-z]+\b", value, re.I):
            return not value.lower().startswith(("url", "linear", "radial", "none"))
    return False


class Scanner:
    """Collects the uses of one document; see `scan`."""

    def __init__(self, features: dict[str, Feature]) -> None:
        self.features = features
        self.known = property_slugs(tuple(sorted(features)))
        none = features.get("css-display-none")
        # The clients where display:none hides an element for certain.
        self.hidden_by_display = frozenset(
            c for c, s in (none.support.items() if none else ()) if s.level == "y"
        )
        # Elements repeat (the same cell style 40 times): their uses are worked out once,
        # and kept between documents (a preview rebuilds the same email again and again).
        self.memo = MEMOS.setdefault(id(features), {})
        if len(self.memo) > _MEMO_LIMIT:
            self.memo.clear()
        self.uses: set[Use] = set()
        self.sheets: list[tuple[compat_css.Sheet, etree._Element]] = []
        self.font_families: set[str] = set()
        self.root: etree._Element | None = None
        # Each distinct element once, with its uses (not looked up in the shared memo again:
        # another thread's build may empty it meanwhile).
        self.seen: dict[object, tuple[tuple[Use, ...], frozenset[str], frozenset[str]]] = {}

    def index(self) -> compat_css.Index:
        """The tags, classes and ids the document has, to tell a rule that matches nothing."""
        tags, classes, ids = set(), set(), set()
        for key in self.seen:
            tag, items = key[0], key[1]  # type: ignore[index]
            tags.add(tag)
            for name, value in items:
                if name == "class":
                    classes.update(value.split())
                elif name == "id":
                    ids.add(value)
        return compat_css.Index(frozenset(tags), frozenset(classes), frozenset(ids))

    def finish(self) -> None:
        for uses, _, families in self.seen.values():
            self.uses.update(uses)
            self.font_families.update(families)

    def declarations(
        self,
        style: Iterable[compat_css.Declaration],
        tag: str,
        media: bool,
        unreached: frozenset[str],
        text: bool = False,
        coloured: bool = True,
    ) -> list[Use]:
        found = []
        for name, value in style:
            if name == "font-family":
                self.font_families.add(value)
            if is_noop(name, value, tag):
                continue
            layout = name in LAYOUT_PROPERTIES
            if name in ("background", "background-image") and "url(" in value.lower():
                layout = text and not coloured  # text on an image: unreadable without it
            for slug in declaration_slugs(name, value, self.known):
                # a value's unit or function shares its property's fate: dropped with it
                found.append(Use(slug, layout, media, tag, f"{name}:{value}", unreached))
        return found

    def element(self, element: etree._Element, unreached: frozenset[str], covered: bool) -> None:
        tag = element.tag
        key = (tag, tuple(element.items()), unreached, covered)
        known = self.memo.get(key)
        if known is None:
            style_text = element.get("style") or ""
            text = coloured = False
            if element.get("background") or "url(" in style_text:
                # only then: reading the text of every element would cost a walk per element
                text = bool("".join(element.itertext()).strip())
                style = compat_css.declarations(style_text)
                coloured = _has_background_colour(style, element)
            known = self.own_uses(tag, dict(element.attrib), unreached, covered, text, coloured)
            if text:  # depends on the element's text too: not kept for others
                self.seen[(*key, id(element))] = known
            else:
                self.memo[key] = known
                self.seen[key] = known
        else:
            self.seen[key] = known  # the uses of each distinct element are gathered in `finish`
        below = known[1]
        if tag == "style":
            sheet = compat_css.parse_sheet(element.text or "", media=bool(element.get("media")))
            self.sheets.append((sheet, element))
        self.children(element, below)

    def own_uses(
        self,
        tag: str,
        attrib: dict[str, str],
        unreached: frozenset[str],
        covered: bool,
        text: bool,
        coloured: bool,
    ) -> tuple[tuple[Use, ...], frozenset[str], frozenset[str]]:
        """An element's own uses, the clients its children cannot reach, its font-families."""
        style = compat_css.declarations(attrib.get("style") or "")
        # Outlook lays out its fallback instead of this element, but still its children.
        own = unreached | {OUTLOOK} if covered else unreached
        hidden = NOBODY
        if ("display", "none") in ((n, v.lower().strip()) for n, v in style):
            hidden = self.hidden_by_display
        if any(n == "mso-hide" and v.lower().startswith("all") for n, v in style):
            hidden = hidden | {OUTLOOK}
        inner = own | hidden
        uses: list[Use] = []
        names = " ".join(attrib)
        slug = ELEMENTS.get(tag)
        if slug:
            uses.append(Use(slug, slug in CONTENT_FEATURES, False, tag, names, inner))
        if tag in ("input", "button"):
            kind = attrib.get("type", "text" if tag == "input" else "submit").lower()
            uses.append(Use(f"html-{tag}-{kind}", True, False, tag, names, inner))
        for name in attrib:
            slug = ATTRIBUTES.get(str(name).lower())
            if slug:
                uses.append(Use(slug, slug in CONTENT_FEATURES, False, tag, str(name), inner))
        href = attrib.get("href", "")
        if tag == "a" and href.startswith("#"):
            uses.append(Use("html-anchor-links", False, False, tag, href, inner))
        elif tag == "a" and href.lower().startswith("mailto:"):
            uses.append(Use("html-mailto-links", False, False, tag, "mailto", inner))
        if tag == "meta" and attrib.get("name", "").lower() == "color-scheme":
            uses.append(Use("html-meta-color-scheme", False, False, tag, "", inner))
        if tag in ("img", "source"):
            for url in [attrib.get("src", ""), *attrib.get("srcset", "").split(",")]:
                image = image_slug(url.strip().split(" ")[0]) if url.strip() else None
                if image:
                    uses.append(Use(image, True, False, tag, url, inner))
        if attrib.get("background"):
            layout = text and not coloured
            uses.append(Use("html-background", layout, False, tag, "background", inner))
        if tag == "style" and attrib.get("media"):
            uses.append(Use("css-at-media", False, True, "", attrib["media"], inner))
        before = set(self.font_families)
        display_none = [(n, v) for n, v in style if n == "display" and "none" in v.lower()]
        uses += self.declarations(display_none, tag, False, own | (hidden & {OUTLOOK}))
        rest = [(n, v) for n, v in style if (n, v) not in display_none]
        uses += self.declarations(rest, tag, False, inner, text, coloured)
        families = frozenset(self.font_families - before)
        return tuple(uses), unreached | hidden, families

    def children(self, parent: etree._Element, unreached: frozenset[str]) -> None:
        children = list(parent)
        if not children:
            return
        kinds = [_conditional(c.text or "") if c.tag is etree.Comment else None for c in children]
        outlook_skips = False
        for index, child in enumerate(children):
            if child.tag is etree.Comment:
                if kinds[index] == "!mso":
                    outlook_skips = True
                elif (child.text or "").strip().lower() == "<![endif]":
                    outlook_skips = False
                continue
            if not isinstance(child.tag, str):
                continue
            # MJML writes the Outlook table before the element (sections, columns) or
            # after it (dividers): either way Outlook draws the table, not the element.
            covered = (index > 0 and kinds[index - 1] == "mso") or (
                index + 1 < len(children) and kinds[index + 1] == "mso"
            )
            reach = unreached | {OUTLOOK} if outlook_skips else unreached
            self.element(child, reach, covered)


def scan(source: str, features: dict[str, Feature]) -> Scanner:
    """Parse `source` (the final, inlined email HTML) and collect its uses."""
    scanner = Scanner(features)
    if not source.strip():
        return scanner
    try:
        root = lxml.html.document_fromstring(source)
    except etree.ParserError:  # nothing but comments or whitespace: no element to check
        return scanner
    scanner.root = root
    scanner.element(root, NOBODY, covered=False)
    scanner.finish()
    return scanner
