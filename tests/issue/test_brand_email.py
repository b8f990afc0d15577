"""The theme in the email: the logo in the header, article titles in the accent colour,
the name once, and images that never trip our own template's compatibility warnings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.issue.build import build
from pipeline.issue.transactional import confirmation
from pipeline.settings import Settings, load_settings
from pipeline.settings.theme import Theme
from tests.support.cli import ok

pytestmark = pytest.mark.single_backend

ISSUE = """---
title: "Issue 7 of the week"
number: 7
lang: en
---
An intro.

## [A chart of the week](https://example.com/a)
![A bar chart of weekly readers](https://example.com/chart.png)

> a quote

```
a_long_identifier_that_must_not_break_inside = call(with_arguments, and_more)
```
"""


def _write(project: Path, theme: str) -> Path:
    toml = project / "newsletter.toml"
    toml.write_text(toml.read_text(encoding="utf-8").split("[theme]")[0] + theme, encoding="utf-8")
    path = project / "issues" / "7.md"
    path.write_text(ISSUE, encoding="utf-8")
    return path


def test_logo_and_accent_titles_come_from_the_theme(project: Path) -> None:
    path = _write(
        project,
        '[theme]\nlogo = "https://cdn.example.com/brand.png"\nlogo_alt = "Brand Weekly"\n'
        'logo_width = 96\naccent = "#a50e0e"\n',
    )
    html = build(path, load_settings()).rendered.html.source
    logo = re.search(r'<img src="https://cdn.example.com/brand.png"[^>]*>', html)
    assert logo and 'alt="Brand Weekly"' in logo.group(0) and 'width="96"' in logo.group(0)
    title = re.search(r'<a href="https://example.com/a"[^>]*>A chart of the week</a>', html)
    assert title and "color:#a50e0e" in title.group(0).replace(" ", "")
    # The logo says the name; the line under it gives the number only.
    assert "Article Weekly · Issue 7" not in html and ">Issue 7<" in html


def test_without_a_logo_the_name_appears_once_at_the_top(project: Path) -> None:
    path = _write(project, "")
    html = build(path, load_settings()).rendered.html.source
    top = html[: html.index("A chart of the week")]
    assert top.count("Article Weekly") == 1 + top.count("<title>Article Weekly")


def test_an_issue_with_an_https_image_passes_check_strict(project: Path, cli) -> None:
    # The theme's logo in the header too: nothing of ours trips the email-client lint.
    path = _write(project, '[theme]\nlogo = "https://cdn.example.com/brand.png"\n')
    result = ok(cli("check", "--strict", path))
    assert "0 feature(s) may break the layout" in result.stderr


def test_code_never_breaks_inside_a_word(project: Path) -> None:
    path = _write(project, "")
    html = build(path, load_settings()).rendered.html.source
    pre = re.search(r"<pre style=([\"'])(.*?)\1", html)
    assert pre is not None
    style = pre.group(2).replace(" ", "")
    assert "word-break:normal" in style and "overflow-wrap:normal" in style
    assert "break-all" not in html and "anywhere" not in style


def test_the_confirmation_email_wears_the_theme_too() -> None:
    theme = Theme(logo="https://cdn.example.com/brand.png", accent="#a50e0e")
    settings = Settings(lang="en", public_url="https://weekly.example.com", theme=theme)
    message = confirmation(
        settings, email="reader@example.com", name=None, lists=["weekly"],
        confirm_url="https://weekly.example.com/confirm/" + "A" * 48,
    )  # fmt: skip
    assert '<img src="https://cdn.example.com/brand.png" alt="Article Weekly"' in message.html
    button = re.search(r'<a href="https://weekly.example.com/confirm/[^"]*"[^>]*>', message.html)
    assert button and "background:#a50e0e" in button.group(0).replace(" ", "")
