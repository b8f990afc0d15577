"""The filter language of `--where EXPR`: readers chosen by attributes, tags, status, when
they joined and what they did with the last issues.

    attr.city = "Busan"  and  (tag:vip or attr.orders >= 3)  and  not opened in last 8 issues

A hand-written recursive-descent parser turns the text into a tree (`filtertree.py`);
`filtersql.py` turns the tree into a SQLAlchemy expression. Values never become
syntax: each one is a bound parameter. Every mistake is an `InputError` that points at
the column (`line 1, col 13: a text value needs quotes: "Busan"`). Keywords ignore case.

Grammar (`|` alternatives, `[]` optional, `*` repeated):

    expr     := and ("or" and)*
    and      := unary ("and" unary)*
    unary    := "not" unary | "(" expr ")" | term
    term     := "attr" "." NAME ("exists" | OP value)
              | ("email" | "name") ("~" | "=") STRING
              | "tag" ":" NAME
              | "status" ("=" | "!=") STRING
              | "joined" (OP DATE | "within" DURATION)
              | ("opened" | "clicked" | "received") "in" "last" INTEGER ("issue" | "issues")
    value    := STRING | NUMBER | DATE
    OP       := "=" | "!=" | "<" | "<=" | ">" | ">="
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Literal

from pipeline.audience.filtertree import (
    NAME,
    AllOf,
    AnyOf,
    Compare,
    Contains,
    Engaged,
    Exists,
    Joined,
    JoinedWithin,
    Node,
    Not,
    Op,
    Status,
    Tagged,
    Value,
)
from pipeline.audience.filtertree import text_of as text_of  # the other half of `parse`
from pipeline.audience.tags import clean_tag
from pipeline.errors import InputError

MAX_LENGTH = 20_000  # characters of an expression
MAX_DEPTH = 40  # nested parentheses and nots
MAX_TERMS = 200
MAX_ISSUES = 1000  # `in last N issues`
MAX_DAYS = 36_500  # `within 100y` at most
STATUSES = ("active", "unconfirmed", "unsubscribed", "bounced", "complained")
KEYWORDS = ("and", "or", "not", "attr", "email", "name", "tag", "status", "joined")
ENGAGEMENT = ("opened", "clicked", "received")


# --- tokens -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # word, string, number, date, duration, op, ( ) . : end
    text: str  # the word lowercased, the string unquoted, the rest as written
    col: int  # 1-based
    raw: str = ""  # a word as written


_SPACE = re.compile(r"\s+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?![\w-])")
_DURATION = re.compile(r"(\d{1,6})([dwmy])(?!\w)")
_NUMBER = re.compile(r"[+-]?\d+(\.\d+)?(?![\w.])")
_WORD = re.compile(r"[^\W\d][\w-]*")
_OPS = ("!=", "<=", ">=", "=", "<", ">", "~")
_NAME = NAME
_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}


def fail(col: int, message: str, hint: str | None = None) -> InputError:
    return InputError(f"line 1, col {col}: {message}", hint=hint)


def _string(text: str, start: int) -> tuple[str, int]:
    """A quoted value from `start` (its quote); backslash escapes the quote and itself.
    Returns the value and the index after the closing quote."""
    quote = text[start]
    out: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
            continue
        if char == quote:
            return "".join(out), i + 1
        out.append(char)
        i += 1
    raise fail(start + 1, f"this text has no closing {quote}", hint=f"end it with {quote}")


def tokens(text: str) -> list[Token]:
    if len(text) > MAX_LENGTH:
        raise InputError(f"the filter is {len(text):,} characters long; at most {MAX_LENGTH:,}")
    if brk := re.search(r"[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]", text):
        raise fail(brk.start() + 1, "a line break: a filter is one line")
    found: list[Token] = []
    i = 0
    name_next = False  # after `tag:` or `attr.`
    while i < len(text):
        col = i + 1
        if space := _SPACE.match(text, i):
            i = space.end()
            name_next = False
            continue
        char = text[i]
        if char in "\"'":
            value, i = _string(text, i)
            _check_text(value, col)
            found.append(Token("string", value, col))
        elif name_next and (match := _NAME.match(text, i)):
            found.append(Token("name", match.group(), col))
            i = match.end()
        elif match := _DATE.match(text, i):
            found.append(Token("date", match.group(), col))
            i = match.end()
        elif match := _DURATION.match(text, i):
            found.append(Token("duration", match.group(), col))
            i = match.end()
        elif match := _NUMBER.match(text, i):
            found.append(Token("number", match.group(), col))
            i = match.end()
        elif match := _WORD.match(text, i):
            word = match.group()
            found.append(Token("word", word.lower(), col, word))
            i = match.end()
        elif op := next((o for o in _OPS if text.startswith(o, i)), None):
            found.append(Token("op", op, col))
            i += len(op)
        elif char in "().:":
            found.append(Token(char, char, col))
            i += 1
        else:
            raise fail(col, f"unexpected {char!r}", hint=_HINT)
        name_next = (
            len(found) >= 2
            and found[-1].kind in (".", ":")
            and found[-2].kind == "word"
            and found[-2].text in ("attr", "tag")
        )
        if found[-1].kind not in (".", ":"):
            name_next = False
    found.append(Token("end", "", len(text) + 1))
    return found


_HINT = 'e.g. attr.city = "Busan" and tag:vip'


def _check_text(value: str, col: int) -> None:
    """Text that can be a bound parameter on both backends: no NUL or control characters
    (PostgreSQL refuses NUL), and valid Unicode (no lone surrogates)."""
    if any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in value):
        raise fail(col, "a value cannot hold control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise fail(col, "a value is not valid text (UTF-8)") from None


# --- the parser -------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokens(text)
        self.at = 0
        self.depth = 0
        self.terms = 0

    @property
    def token(self) -> Token:
        return self.tokens[self.at]

    def take(self) -> Token:
        token = self.token
        self.at += 1
        return token

    def word(self, *words: str) -> bool:
        if self.token.kind == "word" and self.token.text in words:
            self.at += 1
            return True
        return False

    def expect(self, what: str, *words: str) -> Token:
        token = self.token
        if token.kind == "word" and token.text in words:
            return self.take()
        raise fail(token.col, f"expected {what}, found {_shown(token)}")

    def parse(self) -> Node:
        if self.token.kind == "end":
            raise fail(1, "the filter is empty", hint=_HINT)
        node = self.any_of()
        if self.token.kind != "end":
            token = self.token
            raise fail(token.col, f"expected and, or or the end, found {_shown(token)}")
        return node

    def any_of(self) -> Node:
        items = [self.all_of()]
        while self.word("or"):
            items.append(self.all_of())
        return items[0] if len(items) == 1 else AnyOf(tuple(items))

    def all_of(self) -> Node:
        items = [self.unary()]
        while self.word("and"):
            items.append(self.unary())
        return items[0] if len(items) == 1 else AllOf(tuple(items))

    def unary(self) -> Node:
        token = self.token
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise fail(token.col, f"nested too deeply (at most {MAX_DEPTH} levels)")
        try:
            if self.word("not"):
                return Not(self.unary())
            if token.kind == "(":
                self.take()
                node = self.any_of()
                if self.token.kind != ")":
                    raise fail(self.token.col, f"expected ), found {_shown(self.token)}")
                self.take()
                return node
            return self.term()
        finally:
            self.depth -= 1

    def term(self) -> Node:
        token = self.token
        self.terms += 1
        if self.terms > MAX_TERMS:
            raise fail(token.col, f"too many conditions (at most {MAX_TERMS})")
        if token.kind != "word":
            raise fail(token.col, f"expected a condition, found {_shown(token)}", hint=_HINT)
        self.take()
        if token.text == "attr":
            return self.attribute()
        if token.text in ("email", "name"):
            op = self.operator(("~", "="))
            value = self.string()
            field: Literal["email", "name"] = "email" if token.text == "email" else "name"
            return Contains(field, value, exact=op == "=")
        if token.text == "tag":
            return self.tag()
        if token.text == "status":
            negated = self.operator(("=", "!=")) == "!="
            where = self.token
            value = self.string().lower()
            if value not in STATUSES:
                raise fail(where.col, f"unknown status {value!r}; one of {', '.join(STATUSES)}")
            return Status(value, negated)
        if token.text == "joined":
            return self.joined()
        if token.text in ENGAGEMENT:
            return self.engaged(token.text)
        raise fail(
            token.col,
            f"unknown condition {token.raw!r}",
            hint="a condition starts with attr., email, name, tag:, status, joined, "
            "opened, clicked or received",
        )

    def operator(self, allowed: tuple[str, ...]) -> Op:
        token = self.token
        if token.kind != "op" or token.text not in allowed:
            raise fail(token.col, f"expected {' or '.join(allowed)}, found {_shown(token)}")
        self.take()
        return token.text  # type: ignore[return-value]

    def string(self) -> str:
        token = self.token
        if token.kind == "string":
            return self.take().text
        if token.kind == "word":
            raise fail(token.col, f'a text value needs quotes: "{token.raw}"')
        raise fail(token.col, f"expected a quoted text, found {_shown(token)}")

    def name(self, what: str) -> tuple[str, int]:
        token = self.token
        if token.kind in ("name", "string"):
            self.take()
            if token.text:
                return token.text, token.col
        raise fail(token.col, f"expected {what}, found {_shown(token)}")

    def attribute(self) -> Node:
        if self.token.kind != ".":
            raise fail(self.token.col, "expected . and an attribute's name, as in attr.city")
        self.take()
        name, col = self.name("an attribute's name")
        if '"' in name or len(name) > 100:
            raise fail(col, "an attribute's name cannot hold \" or be over 100 characters")
        _check_text(name, col)
        if self.word("exists"):
            return Exists(name.lower())
        op = self.operator(_COMPARE)
        return Compare(name.lower(), op, self.value())

    def value(self) -> Value:
        token = self.token
        if token.kind == "string":
            return self.take().text
        if token.kind == "date":
            return self.day()
        if token.kind == "number":
            self.take()
            try:
                number = Decimal(token.text)
            except InvalidOperation:  # pragma: no cover - the token's pattern is a number
                raise fail(token.col, "not a number") from None
            if len(token.text) > 40:
                raise fail(token.col, "a number of more than 40 digits")
            return number
        if token.kind == "word":
            raise fail(token.col, f'a text value needs quotes: "{token.raw}"')
        raise fail(token.col, f"expected a value, found {_shown(token)}")

    def day(self) -> date:
        token = self.take()
        try:
            return date.fromisoformat(token.text)
        except ValueError:
            raise fail(token.col, f"{token.text} is not a date (YYYY-MM-DD)") from None

    def tag(self) -> Node:
        if self.token.kind != ":":
            raise fail(self.token.col, "expected : and a tag's name, as in tag:vip")
        self.take()
        name, col = self.name("a tag's name")
        try:
            return Tagged(clean_tag(name))
        except InputError as exc:
            raise fail(col, exc.message) from None

    def joined(self) -> Node:
        if self.word("within"):
            token = self.token
            match = _DURATION.fullmatch(token.text) if token.kind == "duration" else None
            if match is None:
                raise fail(token.col, f"expected a time such as 30d, found {_shown(token)}")
            self.take()
            days = int(match.group(1)) * _DAYS[match.group(2)]
            if not 0 < days <= MAX_DAYS:
                raise fail(token.col, f"a time from 1d to {MAX_DAYS // 365}y")
            return JoinedWithin(days)
        op = self.operator(_COMPARE)
        if self.token.kind != "date":
            raise fail(self.token.col, f"expected a date (YYYY-MM-DD), found {_shown(self.token)}")
        return Joined(op, self.day())

    def engaged(self, what: str) -> Node:
        self.expect("in", "in")
        self.expect("last", "last")
        token = self.token
        if token.kind != "number" or not token.text.isdigit():
            raise fail(token.col, f"expected a number of issues, found {_shown(token)}")
        self.take()
        count = int(token.text)
        if not 0 < count <= MAX_ISSUES:
            raise fail(token.col, f"a number of issues from 1 to {MAX_ISSUES}")
        self.expect("issues", "issues", "issue")
        return Engaged(what, count)  # type: ignore[arg-type]


_COMPARE: tuple[str, ...] = ("=", "!=", "<", "<=", ">", ">=")


def _shown(token: Token) -> str:
    if token.kind == "end":
        return "the end"
    if token.kind == "string":
        return "a quoted text"
    text = token.raw or token.text
    return repr(text[:40] + ("..." if len(text) > 40 else ""))


def parse(text: str) -> Node:
    """The tree of a filter; raises InputError naming the column of the first mistake."""
    return _Parser(text).parse()
