"""Email-client compatibility of the final HTML, judged against caniemail's data.

The lint reads the inlined email (style attributes, <style> blocks, @media queries), finds
each HTML element and attribute, CSS property, value, at-rule and selector it uses, and
looks each up for Gmail (desktop webmail, iOS, Android), Outlook (Windows), Apple Mail
(macOS, iOS) and Yahoo (desktop webmail, iOS, Android). Each feature is reported once,
naming the clients that lack it (and caniemail's note where support is partial), in one of
two classes; the first class comes first.

The rule for the classes. A use *breaks* (the layout falls apart or content is hidden) when
a client that lacks it would lose
  - a layout property (`compat_tables.LAYOUT_PROPERTIES`: what decides where a box goes, how
    big it is and whether its content shows: display, position, float, width/height and
    their min/max, flex, grid, columns, overflow, visibility...), or a unit or function in
    its value, outside any media query;
  - content: <svg>, <video>, <audio>, forms, embedded objects, an image format
    (`compat_tables.CONTENT_FEATURES`), or a background image behind text with no background
    colour to fall back on;
  - a <style> rule that the layout depends on: a rule outside media queries whose
    properties the matching elements do not also carry inline (the inliner copies every
    rule it can, so a client that drops the <style> or a selector loses only what was not
    copied); its selectors and the <style> element then break;
  - a @font-face family named with no fallback font after it.
Everything else *looks plainer*: features inside @media or a pseudo-class rule (progressive
enhancement: a client without them shows the base styles), decorative and typographic
properties (border-radius, box-shadow, colours, fonts, spacing...), attributes that only
add meaning (lang, dir, role, aria-*), and selectors whose rules are also inline.

What never counts: a use that cannot reach the client (inside an element hidden by
display:none where the client supports it, or by mso-hide:all for Outlook; content inside
`<!--[if !mso]>`), an element that directly follows an `<!--[if mso]>` table or cell (the
fallback Outlook lays out instead, like MJML's ghost tables around max-width), a
declaration that changes nothing (a property's initial value, an element's default
display), comments and other features no reader can see, and a partial support whose
caniemail notes all name elements, values or attributes this use does not have ("only
works on `<table>` elements" for a table; "`rem` values are not supported" for 16px).

Plainer features that the same clients lack for the same reason are one problem (a Gmail
app with a non-Google account drops every selector at once: one line, not five).
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field

from lxml import etree  # type: ignore[import-untyped]
from lxml.cssselect import CSSSelector, SelectorError  # type: ignore[import-untyped]

from pipeline.issue import compat_css
from pipeline.issue.compat_data import CLIENTS, Feature, load_features
from pipeline.issue.compat_scan import NOBODY, Scanner, Use, is_noop, scan
from pipeline.issue.compat_tables import LAYOUT_PROPERTIES
from pipeline.issue.problems import Problem, Severity

log = logging.getLogger(__name__)

BREAKS = "breaks"
PLAINER = "plainer"
RULE = "compat"
_KIND_TEXT = {BREAKS: "may break the layout or hide content", PLAINER: "looks plainer"}
_TAG = re.compile(r"`<(\w+)[^`]*>`")
_TOKEN = re.compile(r"`([^`]*)`")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_NEGATIVE = re.compile(r"not supported|does not support|doesn't support|\bremoved\b")


@dataclass
class Finding:
    """One feature the email uses that some clients lack."""

    slug: str
    title: str
    url: str
    kind: str = PLAINER
    also: list[str] = field(default_factory=list)  # features with the very same verdict
    levels: dict[str, str] = field(default_factory=dict)  # client -> "n" or "a"
    notes: dict[str, list[str]] = field(default_factory=dict)  # client -> notes that apply

    @property
    def clients(self) -> tuple[str, ...]:
        return tuple(c for c in CLIENTS if c in self.levels)

    def message(self) -> str:
        parts = []
        for level, words in (("n", "not supported in"), ("a", "partly supported in")):
            clients = [c for c in self.clients if self.levels[c] == level]
            if clients:
                parts.append(f"{words} {_client_names(clients)}")
        notes: list[str] = []
        for client in self.clients:
            for note in self.notes.get(client, []):
                text = re.sub(r"^(Partial( support)?|Buggy)\.\s*", "", note).strip()
                text = _LINK.sub(r"\1", text)  # a terminal shows no Markdown; the url has it
                if text and text not in notes:
                    notes.append(text)
        names = ", ".join([self.title, *self.also])
        verb = "are" if self.also else "is"
        text = f"rendered email, {_KIND_TEXT[self.kind]}: {names} {verb} " + "; ".join(parts)
        if notes:
            text += " (" + " ".join(n if n.endswith(".") else n + "." for n in notes) + ")"
        return text


def _client_names(clients: list[str]) -> str:
    """'Gmail (iOS, Android)' from 'Gmail (iOS)' and 'Gmail (Android)'."""
    families: dict[str, list[str]] = {}
    for client in clients:
        family, _, platform = CLIENTS[client].partition(" (")
        families.setdefault(family, []).append(platform.rstrip(")"))
    return ", ".join(f"{family} ({', '.join(p)})" for family, p in families.items())


def note_applies(note: str, use: Use) -> bool:
    """Whether a caniemail note on partial support concerns this use."""
    lower = note.lower()
    if lower.startswith("supports"):  # a remark, not a limit
        return False
    tags = set(_TAG.findall(note)) | ({"td", "th"} if "table cells" in lower else set())
    if lower.startswith("buggy"):  # "Buggy on anchor `<a>` tags": only there
        return not (tags and " on " in lower) or not use.tag or use.tag in tags
    tokens = [t.lower() for t in _TOKEN.findall(note) if t and not t.startswith("<")]
    if tags and re.search(r"\bonly (works|supported|supports) on\b", lower):
        return not use.tag or use.tag not in tags
    if tags and not tokens and "not supported on" in lower:
        return not use.tag or use.tag in tags
    value = use.value.lower()
    attribute = re.search(r"`([\w-]+)` attribute", note)
    if attribute:  # "the `reversed` attribute on `<ol>` is not supported"
        return attribute.group(1).lower() in value.split()
    if "`<number>` values" in lower:
        return bool(re.search(r":\s*\d", value))
    if "negative values" in lower:
        return bool(re.search(r"(^|[\s:(,])-\d", value))
    if "multiple values" in lower:
        return "," in value.partition(":")[2]
    if tokens and _NEGATIVE.search(lower) and not re.search(r"\bonly\b", lower):
        return any(re.search(rf"(?<![a-z_-]){re.escape(t)}(?![\w-])", value) for t in tokens)
    return True


@functools.lru_cache(maxsize=512)
def _selector(selectors: str) -> CSSSelector | None:
    try:
        return CSSSelector(selectors)
    except (SelectorError, ValueError, etree.XPathError):
        return None


def _inline_properties(element: etree._Element) -> frozenset[str]:
    return _property_names(element.get("style") or "")


@functools.lru_cache(maxsize=4096)
def _property_names(style: str) -> frozenset[str]:
    return frozenset(name for name, _ in compat_css.declarations(style))


def _sheet_uses(scanner: Scanner, root: etree._Element) -> None:
    """The uses of every <style> block: what the document's layout depends on is judged by
    whether the inliner also copied each rule onto the elements it matches."""
    index = scanner.index()
    for sheet, element in scanner.sheets:
        load_bearing = False
        for name, prelude in sheet.at_rules:
            for slug in compat_css.at_rule_features(name, prelude):
                if slug != "css-at-font-face":
                    scanner.uses.add(Use(slug, False, True, "", f"@{name} {prelude}", NOBODY))
        for rule in sheet.rules:
            if rule.selectors == "@font-face":
                continue
            slugs, pseudo = compat_css.selector_features(rule.selectors)
            media = rule.media or pseudo
            depends = False
            layout = any(
                name in LAYOUT_PROPERTIES and not is_noop(name, value, "")
                for name, value in rule.declarations
            )
            if not media and not layout:
                # Nothing of the layout hangs on it: whether it is inlined decides nothing,
                # so the exact (slow) match is not needed; only whether it can match at all.
                tag = compat_css.may_match(rule.selectors, index)
                if tag is None:
                    continue
                scanner.uses.update(scanner.declarations(rule.declarations, tag, False, NOBODY))
            elif not media:
                selector = _selector(rule.selectors)
                matched = selector(root) if selector is not None else []
                if not matched:
                    continue  # a rule that matches nothing changes nothing
                names = {name for name, _ in rule.declarations}
                if all(names <= _inline_properties(m) for m in matched):
                    depends = False  # copied inline: checked there, with each element
                else:
                    tag = str(matched[0].tag).lower()
                    depends = any(
                        name in LAYOUT_PROPERTIES and not is_noop(name, value, tag)
                        for name, value in rule.declarations
                    )
                    found = scanner.declarations(rule.declarations, tag, False, NOBODY)
                    scanner.uses.update(found)
            else:
                scanner.uses.update(scanner.declarations(rule.declarations, "", True, NOBODY))
            load_bearing = load_bearing or depends
            for slug in slugs:
                scanner.uses.add(Use(slug, depends, media, "", rule.selectors, NOBODY))
        scanner.uses.add(Use("html-style", load_bearing, False, "", "", NOBODY))
        del element  # the <style> element itself was counted as an element use
    faces = frozenset().union(*(sheet.font_faces for sheet, _ in scanner.sheets))
    if faces:
        fallbackless = any(
            len(families) == 1 and families[0] in faces
            for families in (
                [f.strip().strip("\"'").lower() for f in value.split(",")]
                for value in scanner.font_families
            )
        )
        scanner.uses.add(Use("css-at-font-face", fallbackless, False, "", "@font-face", NOBODY))


Verdict = tuple[tuple[str, str, tuple[str, ...]], ...]  # (client, level, notes that apply)
VERDICTS: dict[tuple[int, Use], Verdict] = {}


def _verdict(use: Use, feature: Feature) -> Verdict:
    """The clients that lack what this use needs; worked out once per distinct use."""
    key = (id(feature), use)
    known = VERDICTS.get(key)
    if known is None:
        found = []
        for client, support in feature.support.items():
            if support.level not in ("n", "a") or client in use.unreached:
                continue
            applying = tuple(n for n in support.notes if note_applies(n, use))
            if support.level == "a" and support.notes and not applying:
                continue
            found.append((client, support.level, applying))
        if len(VERDICTS) > 50_000:
            VERDICTS.clear()
        known = VERDICTS[key] = tuple(found)
    return known


def _judge(uses: set[Use], features: dict[str, Feature]) -> list[Finding]:
    findings: dict[str, Finding] = {}
    for use in uses:
        feature = features.get(use.slug)
        if feature is None:
            continue
        for client, level, applying in _verdict(use, feature):
            finding = findings.get(use.slug)
            if finding is None:
                finding = findings[use.slug] = Finding(use.slug, feature.title, feature.url)
            if finding.levels.get(client) != "n":
                finding.levels[client] = level
            known = finding.notes.setdefault(client, [])
            known.extend(n for n in applying if n not in known)
            if use.layout and not use.media:
                finding.kind = BREAKS
    ordered = sorted(findings.values(), key=lambda f: (f.kind != BREAKS, f.title.lower()))
    return _merge_plainer(ordered)


def _merge_plainer(findings: list[Finding]) -> list[Finding]:
    """Plainer features that the same clients lack for the same reason are one problem
    (a Gmail app without a Google account drops every selector at once)."""
    merged: list[Finding] = []
    by_verdict: dict[object, Finding] = {}
    for finding in findings:
        if finding.kind != PLAINER:
            merged.append(finding)
            continue
        verdict = (
            tuple(sorted(finding.levels.items())),
            tuple(sorted((c, tuple(n)) for c, n in finding.notes.items() if n)),
        )
        first = by_verdict.get(verdict)
        if first is None:
            by_verdict[verdict] = finding
            merged.append(finding)
        else:
            first.also.append(finding.title)
    return merged


def lint(source: str) -> list[Finding]:
    """Every feature of the email HTML `source` that some checked client lacks, breaking
    ones first."""
    features = load_features()
    if not source.strip():
        return []
    scanner = scan(source, features)
    if scanner.root is not None:
        _sheet_uses(scanner, scanner.root)
    return _judge(scanner.uses, features)


def compat_problems(path: str, source: str) -> list[Problem]:
    """The lint as warnings on line 1 of the issue file: they are about the rendered email."""
    return [
        Problem(
            path,
            1,
            1,
            Severity.WARNING,
            finding.message(),
            rule=RULE,
            kind=finding.kind,
            clients=tuple(CLIENTS[c] for c in finding.clients),
            url=finding.url,
        )
        for finding in lint(source)
    ]


try:  # parse the vendored data once, when the module is first imported
    load_features()
except Exception:  # a broken file is reported by `lint`, with its reason
    log.debug("caniemail data not loaded at import", exc_info=True)
