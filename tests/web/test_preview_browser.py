"""The preview in a real headless chromium: both frames, no overflow at 375 px, live reload."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from pipeline.settings import load_settings
from pipeline.web.preview import PHONE_WIDTH, create_app
from tests.support.cli import SAMPLE_ISSUE

pytestmark = pytest.mark.browser


def _touch_edit(path: Path, text: str) -> None:
    # Make sure the change is seen even on filesystems with coarse timestamps.
    path.write_text(text, encoding="utf-8")
    stamp = time.time() + 2
    import os

    os.utime(path, (stamp, stamp))


def test_preview_shows_both_widths_and_reloads_on_edit(project, serve_app, browser) -> None:
    issue = project / "issues" / SAMPLE_ISSUE.name
    shutil.copy(SAMPLE_ISSUE, issue)
    base = serve_app(create_app(issue, load_settings()))
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(base + "/")
        phone = page.frame_locator("#phone")
        desktop = page.frame_locator("#desktop")
        title = "Maintaining large-scale AI capacity at Meta"
        phone.get_by_text(title).wait_for(timeout=15000)
        desktop.get_by_text(title).wait_for(timeout=15000)
        page.locator("#subject").get_by_text("Article Weekly #25").wait_for()

        phone_frame = page.frame(url=lambda url: "/email.html" in url)
        widths = []
        for frame in page.frames:
            if "/email.html" in frame.url:
                widths.append(
                    frame.evaluate(
                        "() => [window.innerWidth, document.documentElement.scrollWidth,"
                        " Math.max(...[...document.querySelectorAll('body *')]"
                        ".map(e => e.getBoundingClientRect().right))]"
                    )
                )
        assert phone_frame is not None and len(widths) == 2
        phone_widths = min(widths, key=lambda w: w[0])
        assert phone_widths[0] == PHONE_WIDTH
        # Nothing overflows horizontally on a phone: no element reaches past the viewport.
        assert phone_widths[1] <= PHONE_WIDTH and phone_widths[2] <= PHONE_WIDTH + 0.5, widths
        assert "https://" in page.locator("#text").inner_text()

        # An edit shows up without a manual reload.
        text = issue.read_text(encoding="utf-8")
        _touch_edit(issue, text.replace(title, "Edited title, live"))
        phone.get_by_text("Edited title, live").wait_for(timeout=15000)

        # A broken edit shows the error in the page; the server keeps running.
        _touch_edit(issue, text.replace("number: 25", "number: -1"))
        page.locator("#problems li.error").get_by_text("number must be positive").wait_for(
            timeout=15000
        )
        _touch_edit(issue, text)
        phone.get_by_text(title).wait_for(timeout=15000)
        assert page.locator("#problems li.error").count() == 0
    finally:
        page.close()
