"""The rendered email in a real chromium: readable in light and dark mode, on a phone."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.issue.build import build, sample_recipient
from pipeline.issue.message import personalise
from pipeline.settings import load_settings
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


@pytest.fixture(scope="module")
def email_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    settings = load_settings(SAMPLE_ISSUE.parent.parent / "newsletter.toml")
    result = build(SAMPLE_ISSUE, settings)
    assert result.rendered is not None
    message = personalise(result.rendered, sample_recipient(settings), settings)
    path = tmp_path_factory.mktemp("email") / "email.html"
    path.write_text(message.html, encoding="utf-8")
    return path


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_text_is_readable_in_both_colour_schemes(browser, email_file: Path, scheme: str) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 800}, color_scheme=scheme)
    try:
        page.goto(email_file.as_uri())
        ratios = page.evaluate(CONTRAST, ".nl-body li, .nl-title a, .nl-title div")
        assert len(ratios) > 100
        assert min(ratios) >= 4.5, f"lowest contrast {min(ratios):.2f} in {scheme} mode"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375
    finally:
        page.close()
