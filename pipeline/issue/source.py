"""Read a Markdown issue file into an `Issue`: front matter plus articles, with line numbers.

The format is a contract with publishers:

    ---
    title: "Article Weekly, Issue 25"               # required
    number: 25                                       # required, positive integer
    period: {start: 2024-06-16, end: 2024-06-22}     # optional; start <= end
    subject: "..."                                   # optional, defaults to title
    preheader: "..."                                 # optional inbox preview text
    lang: ko                                         # optional, defaults from settings
    ---
    Optional intro paragraph(s).

    ## [Article title](https://source.example/url)
    - bullets, nested lists, `code`, links, quotes, fenced code

Problems found while reading are returned, never raised, so that `check` can show all of
them at once; a file that cannot be read as an issue at all yields `None` and its problems.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from pipeline.issue import fields, frontmatter
from pipeline.issue.fields import Period
from pipeline.issue.limits import (
    MAX_ARTICLES,
    MAX_FILE_BYTES,
    MAX_FRONT_MATTER_BYTES,
    MAX_NESTING,
    MAX_PER_RULE,
    MAX_SHOWN,
    UnreadableFile,
    read_regular_file,
    shown,
)
from pipeline.issue.problems import Problem, Severity

FRONT_MATTER_KEYS = ("title", "number", "period", "subject", "preheader", "lang")
_REQUIRED = ("title", "number")
# Characters that XML, and so MJML, refuses (controls other than tab and line breaks, and
# the noncharacters U+FFFE and U+FFFF): in the body they would fail the render.
_UNRENDERABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_UNRENDERABLE_SHOWN = 10  # enough to see the pattern; the file may hold thousands


@dataclass(slots=True)
class Article:
    title: str
    url: str
    line: int  # 1-based line of the `## ` heading in the file
    tokens: list[Token] = field(default_factory=list)  # the article's body blocks


@dataclass(slots=True)
class Issue:
    path: Path
    title: str
    number: int
    lang: str
    subject: str
    preheader: str | None
    period: Period | None
    intro: list[Token]
    articles: list[Article]
    body_offset: int  # lines before the Markdown body, to turn token maps into file lines
    text: str  # the whole file, for columns in messages
    front_matter_ok: bool = True  # False: only the body can be checked, not rendered
    # False: rendering would fail or only repeat a check error confusingly (too many
    # articles, characters that MJML refuses)
    renderable: bool = True

    def line_of(self, token: Token) -> int:
        return self.body_offset + (token.map[0] if token.map else 0) + 1


def markdown() -> MarkdownIt:
    """The one Markdown dialect of issues: CommonMark with raw HTML off, plus tables."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    # Past maxNesting markdown-it drops the rest of a block without a word; the nesting
    # check stops issues at MAX_NESTING levels (a list level costs two), well before that.
    md.options["maxNesting"] = 4 * MAX_NESTING
    # Keep every link as a link so that `check` can name a bad scheme; the sanitiser
    # (nh3, in render) drops anything but http, https and mailto from the output.
    md.validateLink = lambda url: True  # type: ignore[method-assign]
    return md


class _Reader:
    def __init__(self, path: Path, default_lang: str) -> None:
        self.path = path
        self.default_lang = default_lang
        self.problems: list[Problem] = []
        self.lines: list[str] = []  # the file's lines, once it is read

    def problem(
        self, line: int, col: int, message: str, severity: Severity = Severity.ERROR
    ) -> None:
        self.problems.append(Problem(str(self.path), line, col, severity, message))

    def read(self) -> Issue | None:
        try:
            raw = read_regular_file(self.path, MAX_FILE_BYTES)
        except UnreadableFile as exc:
            self.problem(1, 1, str(exc))
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw.count(b"\n", 0, exc.start) + 1
            col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
            self.problem(
                line,
                col,
                f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8",
            )
            return None
        text = text.removeprefix("\ufeff").replace("\r\n", "\n")
        lines = self.lines = text.split("\n")
        if not lines or lines[0].strip() != "---":
            self.problem(
                1, 1, "missing front matter: start the file with '---', then title: and number:"
            )
            return None
        end = frontmatter.closing_line(lines)
        if end is None:
            self.problem(1, 1, "front matter is not closed: add a line '---' after it")
            return None
        meta = self._front_matter("\n".join(lines[1:end]))
        body = "\n".join(lines[end + 1 :])
        unrenderable = self._unrenderable(lines, end + 1)
        tokens = markdown().parse(body)
        issue_stub = Issue(
            path=self.path,
            title="",
            number=0,
            lang=self.default_lang,
            subject="",
            preheader=None,
            period=None,
            intro=[],
            articles=[],
            body_offset=end + 1,
            text=text,
        )
        intro, articles = self._split(tokens, issue_stub)
        issue_stub.intro = intro
        issue_stub.articles = articles
        if unrenderable:
            issue_stub.renderable = False
        if meta is None:
            # The body is still checked, so that every problem shows in one pass; the
            # stub is never rendered.
            issue_stub.front_matter_ok = False
            return issue_stub
        issue_stub.title = meta["title"]
        issue_stub.number = meta["number"]
        issue_stub.lang = meta.get("lang") or self.default_lang
        issue_stub.subject = meta.get("subject") or meta["title"]
        issue_stub.preheader = meta.get("preheader")
        issue_stub.period = meta.get("period")
        return issue_stub

    def _unrenderable(self, lines: list[str], first: int) -> bool:
        """Report characters in the body that no email can carry, at their place."""
        found = 0
        for index in range(first, len(lines)):
            for match in _UNRENDERABLE.finditer(lines[index]):
                found += 1
                if found <= _UNRENDERABLE_SHOWN:
                    self.problem(
                        index + 1,
                        match.start() + 1,
                        f"the character U+{ord(match.group()):04X} cannot be shown in an email: "
                        "delete it",
                    )
        return found > 0

    # -- front matter ----------------------------------------------------------------

    def _front_matter(self, source: str) -> dict[str, Any] | None:
        """Validate the YAML front matter; line numbers are file lines (it starts on line 2)."""
        size = len(source.encode("utf-8"))
        if size > MAX_FRONT_MATTER_BYTES:
            self.problem(
                2,
                1,
                f"front matter is {size / 1024:.0f} KB; it can be at most "
                f"{MAX_FRONT_MATTER_BYTES // 1024} KB (it holds a few short values)",
            )
            return None
        try:
            node = frontmatter.compose(source)
        except frontmatter.FrontMatterError as exc:
            self.problem(exc.line, exc.col, exc.message)
            return None
        if node is None:
            self.problem(1, 1, "front matter is empty: add title: and number:")
            return None
        if not isinstance(node, yaml.MappingNode):
            self.problem(2, 1, "front matter must be 'key: value' lines")
            return None
        values: dict[str, Any] = {}
        positions: dict[str, tuple[int, int]] = {}
        errors_before = len(self.problems)
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            at = (key_node.start_mark.line + 2, key_node.start_mark.column + 1)
            if key not in FRONT_MATTER_KEYS:
                name = str(key)[:MAX_SHOWN]
                if not name.isprintable():
                    name = name.encode("unicode_escape").decode("ascii")
                hint = difflib.get_close_matches(name, FRONT_MATTER_KEYS, n=1, cutoff=0.6)
                known = ", ".join(FRONT_MATTER_KEYS)
                suggestion = f"did you mean '{hint[0]}'?" if hint else f"known keys: {known}"
                self.problem(*at, f"unknown front-matter key '{name}'; {suggestion}")
                continue
            if key in values:
                self.problem(*at, f"'{key}' is given twice")
                continue
            positions[key] = (value_node.start_mark.line + 2, value_node.start_mark.column + 1)
            if key == "number":
                values[key] = frontmatter.issue_number(value_node)  # read from its digits
                continue
            try:
                values[key] = frontmatter.construct(value_node)
            except Exception as exc:  # a constructor raises what it likes
                self.problem(*at, f"{key}: cannot read the value: {shown(str(exc))}")
        for key in _REQUIRED:
            if key not in values and key not in {p for p in positions}:
                self.problem(2, 1, f"missing required front-matter key '{key}'")
        meta = fields.validate(values, positions, self.problem)
        if len(self.problems) > errors_before:
            return None
        return meta

    # -- body ------------------------------------------------------------------------

    def _split(self, tokens: list[Token], issue: Issue) -> tuple[list[Token], list[Article]]:
        """Cut the body at each level-2 heading; each heading must be a link to the source."""
        intro: list[Token] = []
        articles: list[Article] = []
        big_headings = 0
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if token.type == "heading_open" and token.level == 0 and token.tag in ("h1", "h2"):
                inline = tokens[i + 1]
                line = issue.line_of(token)
                if token.tag == "h1":
                    big_headings += 1
                    if big_headings <= MAX_PER_RULE:
                        self.problem(
                            line,
                            1,
                            "'#' heading in the body: the title comes from the front matter; "
                            "start articles with '## [Title](https://...)'",
                        )
                    i += 3
                    continue
                if len(articles) == MAX_ARTICLES:
                    # The rest is neither checked nor rendered: the file must be split anyway.
                    self.problem(
                        line, 1, f"more than {MAX_ARTICLES} articles: split the issue into several"
                    )
                    issue.renderable = False
                    break
                title, url = _heading_link(inline)
                if url is None:
                    self.problem(
                        line,
                        1,
                        "article heading is not a link: write '## [Title](https://source/url)'",
                    )
                elif not url.lower().startswith(("http://", "https://")):
                    col = _column(self.lines[line - 1], url)
                    self.problem(line, col, f"article link must be http or https, not {shown(url)}")
                articles.append(Article(title=title, url=url or "", line=line))
                i += 3
                continue
            (articles[-1].tokens if articles else intro).append(token)
            i += 1
        if not articles:
            self.problem(
                issue.body_offset + 1,
                1,
                "no articles: each article starts with '## [Title](https://source/url)'",
            )
        return intro, articles


def _heading_link(inline: Token) -> tuple[str, str | None]:
    """Title and URL of a heading that is exactly one link; URL None otherwise."""
    children = [
        c for c in inline.children or [] if not (c.type == "text" and not c.content.strip())
    ]
    title = "".join(c.content for c in inline.children or [] if c.content).strip()
    if (
        len(children) >= 2
        and children[0].type == "link_open"
        and children[-1].type == "link_close"
        and not any(c.type == "link_open" for c in children[1:-1])
    ):
        return title, str(children[0].attrs.get("href", ""))
    return title or inline.content, None


def _column(line: str, needle: str) -> int:
    index = line.find(needle)
    return index + 1 if index >= 0 else 1


def read_issue(path: Path, default_lang: str = "ko") -> tuple[Issue | None, list[Problem]]:
    """Read and validate the structure of one issue file; never raises for bad input."""
    reader = _Reader(path, default_lang)
    issue = reader.read()
    return issue, reader.problems
