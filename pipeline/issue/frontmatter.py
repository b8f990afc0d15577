"""An issue's YAML front matter, read as untrusted input.

YAML can do far more than `key: value` lines need, and each extra is a way to break the
reader: aliases expand exponentially ("billion laughs"), explicit tags run constructors
that raise anything (`!!int "abc"`, `!!timestamp 2024-02-30`), deep nesting exhausts the
recursion limit, and YAML 1.1 reads `031`, `0x19` and `1:30` as integers. So the events are
checked before anything is built: no anchor, alias or tag, and a bounded depth.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from pipeline.issue.limits import (
    MAX_FRONT_MATTER_BYTES,
    MAX_FRONT_MATTER_DEPTH,
    MAX_NUMBER,
    MAX_SHOWN,
    read_regular_file,
    shown,
)

# The number is read from its source text: only these digits, as written, are a number.
_PLAIN_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)")
# Characters that must never reach a mail header or the inbox line: C0/C1 controls
# (CR, LF, NUL, tab, NEL U+0085...) and the Unicode line and paragraph separators; and
# what no email can carry at all: lone surrogates (a YAML escape like "\ud800" makes one)
# and the noncharacters U+FFFE and U+FFFF, which MJML refuses.
_NOT_IN_A_HEADER = ("Cc", "Zl", "Zp", "Cs")
_NONCHARACTERS = "\ufffe\uffff"
_LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


class FrontMatterLoader(yaml.SafeLoader):
    """SafeLoader that keeps dates as strings, so a bad date is our message, not a crash."""


FrontMatterLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class FrontMatterError(Exception):
    """Front matter that is refused before it is built. `line` and `col` are file positions."""

    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.line, self.col, self.message = line, col, message


def closing_line(lines: list[str]) -> int | None:
    """Index of the line that closes the front matter (lines[0] is the opening '---')."""
    return next((i for i in range(1, len(lines)) if lines[i].strip() in ("---", "...")), None)


def _at(mark: Any) -> tuple[int, int]:
    # The front matter starts on the file's line 2.
    return (mark.line + 2, mark.column + 1) if mark else (2, 1)


def _tag_name(tag: str) -> str:
    return "!!" + tag.removeprefix("tag:yaml.org,2002:") if tag.startswith("tag:yaml") else tag


def _refuse_extras(source: str) -> None:
    """Raise FrontMatterError at the first anchor, alias, tag or too-deep collection."""
    depth = 0
    for event in yaml.parse(source, Loader=FrontMatterLoader):
        line, col = _at(event.start_mark)
        if isinstance(event, yaml.AliasEvent):
            raise FrontMatterError(
                line, col, "YAML aliases ('*name') are not allowed here: write the value out"
            )
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:
            raise FrontMatterError(
                line, col, "YAML anchors ('&name') are not allowed here: write the value out"
            )
        tag = getattr(event, "tag", None)
        if isinstance(event, yaml.NodeEvent) and tag is not None:
            raise FrontMatterError(
                line,
                col,
                f"YAML tags like {shown(_tag_name(tag))} are not allowed here: write the "
                "plain value (text in quotes, numbers as digits)",
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_FRONT_MATTER_DEPTH:
                raise FrontMatterError(
                    line,
                    col,
                    f"front matter nests more than {MAX_FRONT_MATTER_DEPTH} levels deep: "
                    "write 'key: value' lines",
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def compose(source: str) -> yaml.Node | None:
    """The front matter's node tree, or FrontMatterError for anything it must not hold."""
    try:
        _refuse_extras(source)
        node: yaml.Node | None = yaml.compose(source, Loader=FrontMatterLoader)
    except yaml.MarkedYAMLError as exc:
        line, col = _at(exc.problem_mark)
        raise FrontMatterError(line, col, f"YAML syntax error: {exc.problem or exc}") from None
    except yaml.reader.ReaderError as exc:
        # A character YAML never allows (NUL, other controls): not a MarkedYAMLError.
        before = source[: exc.position]
        line = before.count("\n") + 2
        col = exc.position - (before.rfind("\n") + 1) + 1
        raise FrontMatterError(
            line,
            col,
            f"the control character U+{exc.character:04X} is not allowed in front matter: "
            "delete it",
        ) from None
    return node


def construct(node: yaml.Node) -> Any:
    """The Python value of one checked node (anything it raises is the caller's message)."""
    return FrontMatterLoader("").construct_object(node, deep=True)


def issue_number(node: yaml.Node) -> int | str:
    """The issue number, or the message that says why the value is not one.

    Only a plain decimal integer as written in the file counts: YAML 1.1 would read
    `031` and `0x19` as 25 and `1:30` as 90 without a word. The digits are checked before
    they are converted, so that 5,000 of them are "too large", not a conversion error.
    """
    plain = isinstance(node, yaml.ScalarNode) and node.style is None
    raw = node.value if plain and isinstance(node.value, str) else None
    if raw is not None and _PLAIN_DECIMAL.fullmatch(raw):
        if raw.startswith("-") or raw == "0":
            return f"number must be positive, not {_cut(raw)}"
        if len(raw) > len(str(MAX_NUMBER)) or int(raw) > MAX_NUMBER:
            return f"number {_cut(raw)} is too large: at most {MAX_NUMBER}"
        return int(raw)
    try:
        value = construct(node)
    except Exception:  # e.g. an int of more digits than Python converts
        value = None
    if isinstance(value, bool) or not isinstance(value, int):
        return f"number must be a whole number, not {shown(value if value is not None else raw)}"
    return (
        f"number must be plain decimal digits like 25, not {shown(raw)} "
        f"(YAML would read it as {shown(value)})"
    )


def _cut(text: str) -> str:
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."


def header_unsafe(text: str) -> str | None:
    """What in `text` must not stand in a mail header (None: nothing)."""
    for char in text:
        category = unicodedata.category(char)
        if category in _NOT_IN_A_HEADER or char in _NONCHARACTERS:
            if char in _LINE_BREAKS:
                kind = "a line break"
            elif category == "Cc":
                kind = "a control character"
            else:
                kind = "a character no email can carry"
            return f"{kind} (U+{ord(char):04X})"
    return None


def front_matter_number(path: Path) -> int | None:
    """The issue number a file declares, or None; never raises, never blocks.

    For scans over many files (the duplicate-number check, the web app's issue cache): a
    broken file is skipped here and gets its own errors when it is checked itself.
    """
    try:
        data = read_regular_file(path, head=MAX_FRONT_MATTER_BYTES + 8)
        lines = data.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n").split(b"\n")
        if lines[0].strip() != b"---":
            return None
        end = next((i for i in range(1, len(lines)) if lines[i].strip() in (b"---", b"...")), None)
        if end is None or (end == len(lines) - 1 and len(data) > MAX_FRONT_MATTER_BYTES):
            return None  # not closed, or closed past the limit (the last line may be cut)
        source = b"\n".join(lines[1:end]).decode("utf-8")
        if len(source) > MAX_FRONT_MATTER_BYTES:
            return None
        node = compose(source)
        if not isinstance(node, yaml.MappingNode):
            return None
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == "number":
                number = issue_number(value_node)
                return number if isinstance(number, int) else None
        return None
    except Exception:  # whatever one file does, the scan goes on
        return None
