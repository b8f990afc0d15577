"""The rendered email in a real chromium: readable in light and dark mode, on a phone."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.issue.build import build, sample_recipient
from pipeline.issue.message import personalise
from pipeline.settings import load_settings
from pipeline.settings.theme import contrast
from tests.support.cli import SAMPLE_ISSUE

pytestmark = pytest.mark.browser

# WCAG contrast of an element's text against the first opaque background behind it.
CONTRAST = """
(selector) => {
  const parse = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const results = [];
  for (const el of document.querySelectorAll(selector)) {
    let bg = null;
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) { bg = c.slice(0, 3); break; }
    }
    bg = bg || [255, 255, 255];
    const fg = parse(getComputedStyle(el).color).slice(0, 3);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    results.push((a + 0.05) / (b + 0.05));
  }
  return results;
}
"""


EXTRA = """
## [Quoted](https://example.com/quoted)
> a quote from the article, which dark mode must keep readable

```
result = a_function_with_a_very_long_name_that_no_phone_can_fit(argument_one, argument_two)
```
"""
# Every kind of text in the email.
TEXTS = ".nl-body li, .nl-body blockquote, .nl-body pre, .nl-title a, .nl-title div, .nl-muted div"
# A divider's line against the card behind it: quiet, in both modes.
DIVIDERS = """
() => [...document.querySelectorAll('.nl-divider p')].map((p) => {
  const card = p.closest('.nl-card');
  return [getComputedStyle(p).borderTopColor, getComputedStyle(card).backgroundColor];
})
"""


@pytest.fixture(scope="module")
def email_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings = load_settings(SAMPLE_ISSUE.parent.parent / "newsletter.toml")
    folder = tmp_path_factory.mktemp("email")
    # The sample, with a quote and a line of code too long for a phone.
    issue = folder / SAMPLE_ISSUE.name
    issue.write_text(SAMPLE_ISSUE.read_text(encoding="utf-8") + EXTRA, encoding="utf-8")
    result = build(issue, settings)
    assert result.rendered is not None, result.problems
    message = personalise(result.rendered, sample_recipient(settings), settings)
    path = folder / "email.html"
    path.write_text(message.html, encoding="utf-8")
    return path


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_is_readable_in_both_colour_schemes(browser, email_file: Path, scheme: str) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 800}, color_scheme=scheme)
    try:
        page.goto(email_file.as_uri())
        ratios = page.evaluate(CONTRAST, TEXTS)
        assert len(ratios) > 100
        assert min(ratios) >= 4.5, f"lowest contrast {min(ratios):.2f} in {scheme} mode"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375
        # The long line of code is kept whole and scrolls inside its block.
        code = page.locator(".nl-body pre").last
        assert code.evaluate("(pre) => pre.scrollWidth > pre.clientWidth")
        for line, card in page.evaluate(DIVIDERS):
            assert _ratio(line, card) < 1.6, f"a divider {line} on {card} shouts in {scheme}"
    finally:
        page.close()


def _ratio(first: str, second: str) -> float:
    def hex_of(css: str) -> str:
        r, g, b = (int(float(v)) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])
        return f"#{r:02x}{g:02x}{b:02x}"

    return contrast(hex_of(first), hex_of(second))
