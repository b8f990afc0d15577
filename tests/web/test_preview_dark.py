"""Dark mode in the preview, in Debian's chromium: both frames take the email's own dark
styles, as chromium itself renders the email when the system prefers dark."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from pipeline.settings import load_settings
from pipeline.web.preview import create_app, dark_variant
from tests.support.axe import assert_accessible
from tests.support.cli import SAMPLE_ISSUE

pytestmark = pytest.mark.browser

TITLE = "Maintaining large-scale AI capacity at Meta"
# What a reader sees: the card, the page around it, the body text, an article's title link,
# and the text colour of the canvas (the UA's, where the email sets none: dark in a client
# that honours `<meta name="color-scheme" content="light dark">`).
COLOURS = """() => {
  const style = (selector, property) =>
    getComputedStyle(document.querySelector(selector))[property];
  return {
    card: style('.nl-card table', 'backgroundColor'),
    page: style('.nl-page', 'backgroundColor'),
    text: style('.nl-body div', 'color'),
    title: style('.nl-title a', 'color'),
    canvasText: getComputedStyle(document.body).color,
  };
}"""


def _rgb(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def _frame_colours(page) -> list[dict[str, str]]:
    frames = [f for f in page.frames if "/email.html" in f.url]
    assert len(frames) == 2
    return [frame.evaluate(COLOURS) for frame in frames]


@pytest.mark.single_backend  # never opens the store
def test_dark_mode_shows_the_emails_dark_styles(project: Path, serve_app, browser) -> None:
    issue = project / "issues" / SAMPLE_ISSUE.name
    shutil.copy(SAMPLE_ISSUE, issue)
    base = serve_app(create_app(issue, load_settings()))

    # The peer: chromium's own dark mode (prefers-color-scheme: dark) on the unchanged email.
    reference = browser.new_page()
    try:
        reference.emulate_media(color_scheme="dark")
        reference.goto(base + "/email.html")
        expected = reference.evaluate(COLOURS)
        source = reference.content()
    finally:
        reference.close()
    dark_block = re.search(r"@media \(prefers-color-scheme: dark\) \{(.*?)\n\s*\}", source, re.S)
    assert dark_block is not None
    dark_colours = {_rgb(c) for c in re.findall(r"#[0-9a-fA-F]{6}", dark_block.group(1))}

    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(base + "/")
        page.frame_locator("#phone").get_by_text(TITLE).wait_for(timeout=15000)
        page.frame_locator("#desktop").get_by_text(TITLE).wait_for(timeout=15000)
        light = _frame_colours(page)
        assert light[0] == light[1]
        assert light[0]["card"] == "rgb(255, 255, 255)"
        assert light[0]["canvasText"] == "rgb(0, 0, 0)"
        assert_accessible(page, "the preview page in light mode")

        page.get_by_label("Dark mode").check()
        # The frames' own location, not their src attribute: until the dark page has
        # loaded, a frame still shows the light one (a race a busy machine loses).
        page.wait_for_function(
            "() => [...document.querySelectorAll('iframe')].filter(f => f.contentWindow"
            " && f.contentWindow.location.href.includes('scheme=dark')"
            " && f.contentDocument.readyState === 'complete'"
            " && f.contentDocument.querySelector('.nl-card')).length === 2",
            timeout=15000,
        )
        dark = _frame_colours(page)
        for frame in dark:
            # what chromium shows in dark mode, from the email's own dark styles
            assert frame == expected
            assert {frame["card"], frame["page"], frame["text"], frame["title"]} <= dark_colours
            for part in ("card", "page", "text", "title", "canvasText"):
                assert frame[part] != light[0][part], part
        # the dark colours keep their contrast (axe runs in each frame: it does not enter
        # frames it was not loaded into)
        assert_accessible(page, "the preview page in dark mode")
        for frame in page.frames:
            if "/email.html" in frame.url:
                assert_accessible(frame, f"the email in dark mode ({frame.url})")

        # The choice holds across a reload (as after an edit of the issue).
        page.reload()
        page.frame_locator("#phone").get_by_text(TITLE).wait_for(timeout=15000)
        assert page.get_by_label("Dark mode").is_checked()
        page.wait_for_function(
            "() => document.querySelector('#desktop').src.includes('scheme=dark')"
        )
        page.get_by_label("Dark mode").uncheck()
        page.wait_for_function(
            "() => !document.querySelector('#desktop').src.includes('scheme=dark')"
        )
        page.frame_locator("#desktop").get_by_text(TITLE).wait_for(timeout=15000)
        page.wait_for_function(
            "() => [...document.querySelectorAll('iframe')].every(f => f.contentWindow"
            " && !f.contentWindow.location.href.includes('scheme=dark')"
            " && f.contentDocument.readyState === 'complete'"
            " && f.contentDocument.querySelector('.nl-card'))"
        )
        assert _frame_colours(page) == light
    finally:
        page.close()


def test_only_style_elements_change() -> None:
    document = (
        '<html><head><meta name="color-scheme" content="light dark">'
        "<style>@media (prefers-color-scheme: dark) { a { color: #fff } }"
        "@media screen and (prefers-color-scheme:light) { a { color: #000 } }</style></head>"
        "<body><code>@media (prefers-color-scheme: dark) { }</code></body></html>"
    )
    dark = dark_variant(document)
    assert "@media (width >= 0px) { a { color: #fff } }" in dark
    assert "@media screen and (width < 0px) { a { color: #000 } }" in dark
    # an article about CSS keeps its text
    assert "<code>@media (prefers-color-scheme: dark) { }</code>" in dark
    assert dark.index(":root { color-scheme: dark; }") < dark.index("</head>")
    # an email that does not declare dark support gets no dark canvas from us
    assert "color-scheme: dark;" not in dark_variant("<html><head></head><body></body></html>")
