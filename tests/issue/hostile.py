"""Hostile issue files that several test modules use, and helpers to check them."""

from __future__ import annotations

import os
from pathlib import Path

from pipeline.issue.build import build
from pipeline.issue.limits import MAX_FILE_BYTES
from pipeline.issue.problems import Problem, Severity
from pipeline.settings import load_settings

ARTICLE = "## [An article](https://example.com/a)\n- a point\n"


def head(**values: str) -> str:
    fields = {"title": '"Weekly"', "number": "3", **values}
    return "---\n" + "".join(f"{k}: {v}\n" for k, v in fields.items()) + "---\n"


def problems_of(folder: Path, text: str | bytes, name: str = "issue.md") -> list[Problem]:
    path = folder / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    # The email-client lint judges the template, not the text: its own tests cover it.
    return [p for p in build(path, load_settings()).problems if p.rule != "compat"]


def errors_of(folder: Path, text: str | bytes, name: str = "issue.md") -> list[Problem]:
    return [p for p in problems_of(folder, text, name) if p.severity is Severity.ERROR]


def write_issue(folder: Path, text: str, name: str = "issue.md") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


BROKEN_FRONT_MATTER = {
    "impossible date": head(period="{start: 2024-02-30, end: 2024-03-01}"),
    "impossible timestamp": head(period="{start: 2024-06-16 25:61:00, end: 2024-06-22}"),
    "explicit int tag": head(number='!!int "abc"'),
    "explicit timestamp tag": head(period="{start: !!timestamp 2024-02-30, end: 2024-03-01}"),
    "python tag": head(title="!!python/object/apply:os.system ['true']"),
    "deep nesting": head(period="[" * 3000 + "]" * 3000),
    # Each level refers to the one before nine times: 9**5 strings when expanded.
    "alias bomb": (
        '---\ntitle: "Weekly"\nperiod: &a ["x","x","x","x","x","x","x","x","x"]\n'
        "lang: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nsubject: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        "preheader: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\nnumber: [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n---\n"
    ),
    "bad UTF-8": head().encode() + b"# caf\xe9\n",
    "NUL byte": head(title='"a\x00b"'),
}


def sibling(folder: Path, kind: str) -> Path:
    path = folder / f"sibling-{kind.replace(' ', '-')}.md"
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "folder":
        path.mkdir()
    elif kind == "too big":
        path.write_bytes(head().encode() + b"x" * (MAX_FILE_BYTES + 1))
    else:
        content = BROKEN_FRONT_MATTER[kind]
        data = content if isinstance(content, bytes) else (content + ARTICLE).encode()
        path.write_bytes(data)
    return path


SIBLING_KINDS = [*BROKEN_FRONT_MATTER, "FIFO", "folder", "too big"]
