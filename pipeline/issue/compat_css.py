"""A small CSS reader for the compatibility lint: rules, at-rules and declarations, and which
caniemail features a declaration or a selector uses.

Not a validating parser: email CSS is small and written by our template, so this reads
what a browser would and ignores what it cannot split (it never raises).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

Declaration = tuple[str, str]  # (property in lowercase, value as written)

_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)
_AT_NAME = re.compile(r"@([\w-]+)")


@dataclass(frozen=True, slots=True)
class Rule:
    selectors: str
    declarations: tuple[Declaration, ...]
    media: bool  # inside @media or @supports: applies only where the query holds


@dataclass(frozen=True, slots=True)
class Sheet:
    rules: tuple[Rule, ...]
    at_rules: tuple[tuple[str, str], ...]  # (name, prelude), e.g. ("media", "(min-width:480px)")
    font_faces: frozenset[str]  # families declared by @font-face, lowercase


def _split_top(text: str, separator: str) -> list[str]:
    """Split at `separator` outside quotes and parentheses."""
    parts, depth, quote, start = [], 0, "", 0
    for index, char in enumerate(text):
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth = max(0, depth - 1)
        elif char == separator and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


@functools.lru_cache(maxsize=4096)
def declarations(text: str) -> tuple[Declaration, ...]:
    """`color: red; width: 10px` as pairs; a style attribute repeats, so this is cached."""
    found = []
    for part in _split_top(_COMMENT.sub("", text), ";"):
        name, colon, value = part.partition(":")
        name, value = name.strip().lower(), value.strip()
        if colon and name and value:
            found.append((name, value))
    return tuple(found)


def _block_end(css: str, start: int) -> int:
    """The index of the `}` closing the block that opens just before `start`."""
    depth, quote = 1, ""
    for index in range(start, len(css)):
        char = css[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in "\"'":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return index
    return len(css)


def _read(css: str, media: bool, rules: list[Rule], at_rules: list[tuple[str, str]]) -> None:
    position = 0
    while position < len(css):
        brace, semi = css.find("{", position), css.find(";", position)
        if brace < 0 and semi < 0:
            return
        prelude_end = semi if brace < 0 or 0 <= semi < brace else brace
        prelude = css[position:prelude_end].strip()
        if prelude_end == semi:  # a statement: @import url(...);  @charset "x";
            match = _AT_NAME.match(prelude)
            if match:
                at_rules.append((match.group(1).lower(), prelude[match.end() :].strip()))
            position = semi + 1
            continue
        end = _block_end(css, brace + 1)
        body = css[brace + 1 : end]
        position = end + 1
        match = _AT_NAME.match(prelude)
        if match:
            name = match.group(1).lower()
            at_rules.append((name, prelude[match.end() :].strip()))
            if name in ("media", "supports", "document", "container", "layer"):
                _read(body, media or name != "layer", rules, at_rules)
            elif name == "font-face":
                rules.append(Rule("@font-face", declarations(body), media))
        elif prelude:
            rules.append(Rule(prelude, declarations(body), media))


@functools.lru_cache(maxsize=256)
def parse_sheet(css: str, *, media: bool = False) -> Sheet:
    """A <style> block's rules; `media` when the block itself has a media attribute."""
    rules: list[Rule] = []
    at_rules: list[tuple[str, str]] = []
    _read(_COMMENT.sub("", css), media, rules, at_rules)
    faces = set()
    for rule in rules:
        if rule.selectors == "@font-face":
            for name, value in rule.declarations:
                if name == "font-family":
                    faces.add(value.strip("\"' ").lower())
    return Sheet(tuple(rules), tuple(at_rules), frozenset(faces))


# -- selectors -----------------------------------------------------------------------------

_BRACKETS = re.compile(r"\[[^\]]*\]")
_PARENS = re.compile(r"\([^()]*\)")
_PSEUDO = re.compile(r"(::?)([a-zA-Z-]+)")
_PSEUDO_SLUGS = {
    "active", "checked", "default", "first-child", "first-of-type", "focus-visible",
    "focus-within", "focus", "has", "hover", "last-child", "last-of-type", "link", "not",
    "nth-child", "nth-last-child", "nth-last-of-type", "nth-of-type", "only-child",
    "only-of-type", "target", "visited",
}  # fmt: skip
_PSEUDO_ELEMENTS = {"after", "before", "first-letter", "first-line", "marker", "placeholder"}


@functools.lru_cache(maxsize=1024)
def selector_features(selectors: str) -> tuple[frozenset[str], bool]:
    """The caniemail selector features of a selector list, and whether it has a pseudo-class
    or pseudo-element (a state or a generated box, which an inliner cannot copy)."""
    slugs: set[str] = set()
    group = [s.strip() for s in _split_top(selectors, ",") if s.strip()]
    if len(group) > 1:
        slugs.add("css-selector-grouping")
    pseudo = False
    for selector in group:
        if "&" in selector:
            slugs.add("css-nesting")
        for attribute in _BRACKETS.findall(selector):
            name = attribute[1:].split("=")[0].strip(" ~|^$*]").lower()
            if name not in ("id", "class"):
                slugs.add("css-selector-attribute")
        plain = _BRACKETS.sub("[]", selector)
        for colons, name in _PSEUDO.findall(plain):
            pseudo = True
            name = name.lower()
            if name == "lang":
                slugs.add("css-pseudo-class-lang")
            elif name in _PSEUDO_ELEMENTS:
                slugs.add(f"css-pseudo-element-{name}")
            elif name in _PSEUDO_SLUGS and colons == ":":
                slugs.add(f"css-pseudo-class-{name}")
        while _PARENS.search(plain):
            plain = _PARENS.sub("", plain)
        plain = _PSEUDO.sub("", plain)
        plain = re.sub(r"\s*([>+~])\s*", r"\1", plain.strip())
        for combinator, slug in (
            (">", "child"),
            ("+", "adjacent-sibling"),
            ("~", "general-sibling"),
        ):
            if combinator in plain:
                slugs.add(f"css-selector-{slug}")
        if re.search(r"\s", plain):
            slugs.add("css-selector-descendant")
        for compound in re.split(r"[\s>+~]+", plain):
            if re.match(r"[a-zA-Z]", compound):
                slugs.add("css-selector-type")
            if compound.startswith("*"):
                slugs.add("css-selector-universal")
            classes = compound.count(".")
            if classes:
                slugs.add("css-selector-class")
            if classes > 1:
                slugs.add("css-selector-chaining")
            if "#" in compound:
                slugs.add("css-selector-id")
    return frozenset(slugs), pseudo


@dataclass(frozen=True, slots=True)
class Index:
    tags: frozenset[str]
    classes: frozenset[str]
    ids: frozenset[str]


def may_match(selectors: str, index: Index) -> str | None:
    """None when no selector of the list can match (a class, id or the subject's tag is
    absent from the document), else the subject's tag ("" when it names none)."""
    found = None
    for selector in _split_top(selectors, ","):
        plain = _PSEUDO.sub("", _BRACKETS.sub("", selector)).strip()
        if not plain:
            continue
        classes = set(re.findall(r"\.([\w-]+)", plain))
        ids = set(re.findall(r"#([\w-]+)", plain))
        subject = re.split(r"[\s>+~]+", plain)[-1]
        tag = re.match(r"[a-zA-Z][\w-]*", subject)
        name = tag.group(0).lower() if tag else ""
        if classes <= index.classes and ids <= index.ids and (not name or name in index.tags):
            found = name if found is None else found
    return found


# -- media queries -------------------------------------------------------------------------

_MEDIA_FEATURES = {
    "prefers-color-scheme": "css-at-media-prefers-color-scheme",
    "prefers-reduced-motion": "css-at-media-prefers-reduced-motion",
    "orientation": "css-at-media-orientation",
    "hover": "css-at-media-hover",
    "any-hover": "css-at-media-hover",
    "-webkit-device-pixel-ratio": "css-at-media-device-pixel-ratio",
    "-webkit-min-device-pixel-ratio": "css-at-media-device-pixel-ratio",
    "-webkit-max-device-pixel-ratio": "css-at-media-device-pixel-ratio",
}


def at_rule_features(name: str, prelude: str) -> set[str]:
    """`@media (prefers-color-scheme: dark)` uses @media and its prefers-color-scheme."""
    slugs = {f"css-at-{name}"} if name in ("font-face", "import", "keyframes", "media") else set()
    if name == "supports":
        slugs.add("css-at-supports")
    if name == "media":
        for feature in re.findall(r"\(\s*([\w-]+)", prelude):
            slug = _MEDIA_FEATURES.get(feature.lower())
            if slug:
                slugs.add(slug)
    return slugs
