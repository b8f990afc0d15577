"""Pure checks: an `Issue` (and its rendered HTML) in, a list of problems with positions out."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import unquote

from markdown_it.token import Token

from pipeline.issue.limits import MAX_NESTING, MAX_PER_RULE, shown
from pipeline.issue.problems import Problem, Severity
from pipeline.issue.source import Issue

ALLOWED_SCHEMES = ("http://", "https://", "mailto:")
# Gmail clips messages whose HTML is larger than 102 KB ("[Message clipped]"), hiding the
# footer and its unsubscribe link; warn well before that.
CLIP_WARN_BYTES = 90 * 1024
CLIP_ERROR_BYTES = 102 * 1024


def _walk(tokens: list[Token]) -> Iterator[tuple[Token, Token | None]]:
    """Every token with the block token that holds it (for its line)."""
    for token in tokens:
        yield token, None
        for child in token.children or []:
            yield child, token


def _blocks(issue: Issue) -> Iterator[list[Token]]:
    yield issue.intro
    for article in issue.articles:
        yield article.tokens


class _Findings:
    """One rule's problems in one issue. Only the first MAX_PER_RULE are kept, then a count:
    placing one costs a search of its block, and the ten-thousandth instance of the same
    mistake in a hostile file tells nobody anything (it made `check` quadratic)."""

    def __init__(self, issue: Issue) -> None:
        self.issue = issue
        self.problems: list[Problem] = []
        self.more = 0
        self._lines: list[str] | None = None

    def room(self) -> bool:
        """Whether another problem is kept; counts it otherwise."""
        if len(self.problems) < MAX_PER_RULE:
            return True
        self.more += 1
        return False

    def add(self, at: tuple[int, int], severity: Severity, message: str) -> None:
        self.problems.append(Problem(str(self.issue.path), *at, severity, message))

    def position(self, block: Token | None, needle: str) -> tuple[int, int]:
        """Best file position of `needle` inside a block (markdown-it keeps lines, not
        columns)."""
        issue = self.issue
        if block is None or not block.map:
            return (issue.body_offset + 1, 1)
        if self._lines is None:
            self._lines = issue.text.split("\n")
        lines = self._lines
        first = issue.body_offset + block.map[0]
        last = issue.body_offset + block.map[1]
        for candidate in (needle, unquote(needle)):
            for index in range(first, min(last, len(lines))):
                col = lines[index].find(candidate)
                if col >= 0:
                    return index + 1, col + 1
        return first + 1, 1

    def result(self) -> list[Problem]:
        if self.more:
            last = self.problems[-1]
            self.add(
                (last.line, last.col),
                last.severity,
                f"and {self.more} more problem(s) of this kind: only the first {MAX_PER_RULE} "
                "are shown",
            )
        return self.problems


def check_links(issue: Issue) -> list[Problem]:
    """Links must be absolute http(s) or mailto; images need alt text and https."""
    found = _Findings(issue)
    for tokens in _blocks(issue):
        for token, block in _walk(tokens):
            if token.type == "link_open":
                href = str(token.attrs.get("href", ""))
                if not href.lower().startswith(ALLOWED_SCHEMES) and found.room():
                    scheme = href.split(":", 1)[0] + ":" if ":" in href else "a relative link"
                    found.add(
                        found.position(block, href),
                        Severity.ERROR,
                        f"link {shown(href)} uses {shown(scheme)[1:-1]}; only http, https and "
                        "mailto links work in email",
                    )
            elif token.type == "image":
                src = str(token.attrs.get("src", ""))
                if not token.content.strip() and found.room():
                    found.add(
                        found.position(block, src),
                        Severity.ERROR,
                        "image has no alt text: write ![what it shows](https://...)",
                    )
                if not src.lower().startswith("https://") and found.room():
                    found.add(
                        found.position(block, src),
                        Severity.ERROR,
                        f"image source {shown(src)} must be an https:// URL",
                    )
    return found.result()


_NESTING_OPEN = ("bullet_list_open", "ordered_list_open", "blockquote_open")
_NESTING_CLOSE = ("bullet_list_close", "ordered_list_close", "blockquote_close")


def _depths(tokens: list[Token]) -> Iterator[tuple[int, Token]]:
    """Each token with how many lists and quotes hold it (a list's own open token counts)."""
    depth = 0
    for token in tokens:
        if token.type in _NESTING_OPEN:
            depth += 1
        yield depth, token
        if token.type in _NESTING_CLOSE:
            depth -= 1


def check_nesting(issue: Issue) -> list[Problem]:
    """Lists and quotes nested too deep: past a bound, Markdown drops content silently."""
    found = _Findings(issue)
    for tokens in _blocks(issue):
        reported = False
        for depth, token in _depths(tokens):
            if depth <= MAX_NESTING:
                reported = False  # a later, separate violation gets its own error
            elif not reported and token.type in _NESTING_OPEN:
                reported = True
                if found.room():
                    found.add(
                        (issue.line_of(token), 1),
                        Severity.ERROR,
                        f"lists and quotes are nested more than {MAX_NESTING} levels deep "
                        "here: flatten them",
                    )
    return found.result()


def check_bullets(issue: Issue) -> list[Problem]:
    """A bullet with no text shows as a stray dot in every mail client."""
    found = _Findings(issue)
    for tokens in _blocks(issue):
        depths = [depth for depth, _ in _depths(tokens)]
        for index, token in enumerate(tokens):
            if token.type != "list_item_open" or depths[index] > MAX_NESTING:
                # too deep: check_nesting says so, and Markdown may have cut the item short
                continue
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            empty = following is not None and following.type == "list_item_close"
            if (
                following is not None
                and following.type == "paragraph_open"
                and index + 2 < len(tokens)
                and not tokens[index + 2].content.strip()
            ):
                empty = True
            if empty and found.room():
                found.add(
                    (issue.line_of(token), 1),
                    Severity.ERROR,
                    "empty bullet: write its text or delete the line",
                )
    return found.result()


def check_duplicates(issue: Issue) -> list[Problem]:
    seen: dict[str, int] = {}
    found = _Findings(issue)
    for article in issue.articles:
        if not article.url:
            continue
        key = article.url.rstrip("/")
        if key not in seen:
            seen[key] = article.line
        elif found.room():
            found.add(
                (article.line, 1),
                Severity.WARNING,
                f"article URL already used on line {seen[key]}: {article.url}",
            )
    return found.result()


def check_emphasis(issue: Issue) -> list[Problem]:
    """`**` or `__` left in text: CommonMark misses bold right next to Korean particles."""
    found = _Findings(issue)
    for tokens in _blocks(issue):
        for token, block in _walk(tokens):
            if token.type != "text" or block is None:
                continue
            for marker in ("**", "__"):
                if marker in token.content and found.room():
                    found.add(
                        found.position(block, marker),
                        Severity.WARNING,
                        f"'{marker}' is shown as-is, not as bold: CommonMark does not close "
                        "emphasis before a letter when punctuation precedes the marker "
                        f"(e.g. {marker}'code'{marker}는); add a space after the closing "
                        f"'{marker}' or move the punctuation outside",
                    )
    return found.result()


def check_issue(issue: Issue) -> list[Problem]:
    """Every source-level check, in file order."""
    return [
        *check_links(issue),
        *check_nesting(issue),
        *check_bullets(issue),
        *check_duplicates(issue),
        *check_emphasis(issue),
    ]


def check_size(issue: Issue, html_bytes: int) -> list[Problem]:
    """The rendered email against Gmail's clipping limit."""
    kb = html_bytes / 1024
    if html_bytes >= CLIP_ERROR_BYTES:
        severity, verdict = Severity.ERROR, "Gmail clips it, hiding the footer and unsubscribe link"
    elif html_bytes >= CLIP_WARN_BYTES:
        severity, verdict = Severity.WARNING, "close to Gmail's 102 KB clipping limit"
    else:
        return []
    return [
        Problem(
            str(issue.path),
            1,
            1,
            severity,
            f"rendered HTML is {kb:.1f} KB: {verdict}; shorten the issue or split it",
        )
    ]
