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


@pytest.mark.single_backend  # never opens the store
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

        # A broken edit: its error, at its place, replaces the frames; the server keeps
        # running, and the next good save brings them back.
        _touch_edit(issue, text.replace("number: 25", "number: -1"))
        page.locator("#problems li.error").get_by_text("number must be positive").wait_for(
            timeout=15000
        )
        overlay = page.get_by_role("alert").filter(has_text="This save does not build")
        overlay.get_by_text(f"{issue}:3:").wait_for()
        assert "number must be positive" in overlay.inner_text()
        assert page.locator("#frames").is_hidden()
        _touch_edit(issue, text)
        phone.get_by_text(title).wait_for(timeout=15000)
        page.locator("#overlay").wait_for(state="hidden")
        assert (
            page.locator("#problems li.error").count() == 0 and page.locator("#frames").is_visible()
        )
        # Email-client notes are a count, opened on demand.
        notes = page.locator("#notes summary")
        assert "email-client note(s)" in notes.inner_text()
        assert page.locator("#notes-list").is_hidden()
        notes.click()
        assert page.locator("#notes-list li").first.is_visible()
    finally:
        page.close()


def test_the_field_shows_a_subscribers_copy(project, database_url, serve_app, browser) -> None:
    from pipeline.audience.tokens import verify_token
    from tests.support.cli import TEST_SECRET
    from tests.support.preview_readers import ONE_LIST, ONE_LIST_NAME, TWO_LISTS, seed_readers

    seeded = seed_readers(database_url)
    issue = project / "issues" / SAMPLE_ISSUE.name
    shutil.copy(SAMPLE_ISSUE, issue)
    app = create_app(issue, load_settings())
    base = serve_app(app)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        page.goto(base + "/")
        page.locator("#reader").get_by_text("Showing the sample reader").wait_for(timeout=15000)

        page.get_by_label("As subscriber").fill(ONE_LIST)
        page.get_by_role("button", name="Show their copy").click()
        page.locator("#reader").get_by_text(f"{ONE_LIST_NAME} <{ONE_LIST}>").wait_for()
        for frame in ("#phone", "#desktop"):
            page.frame_locator(frame).get_by_text(ONE_LIST).first.wait_for(timeout=15000)
        email = next(f for f in page.frames if "/email.html" in f.url)
        hrefs = email.evaluate("() => [...document.links].map(a => a.href)")
        (token,) = {h.rsplit("/", 1)[1] for h in hrefs if "/unsubscribe/" in h}
        assert verify_token(TEST_SECRET.encode(), token) == (
            seeded.ids[ONE_LIST],
            seeded.lists["weekly"],
        )
        page.locator("#text").get_by_text(token, exact=False).wait_for()

        # An unknown address, or a list to choose: a message in the page; the copy stays.
        page.get_by_label("As subscriber").fill("nobody@example.org")
        page.get_by_role("button", name="Show their copy").click()
        alert = page.get_by_role("alert")
        alert.get_by_text("no subscriber with the address nobody@example.org").wait_for()
        page.get_by_label("As subscriber").fill(TWO_LISTS)
        page.get_by_role("button", name="Show their copy").click()
        alert.get_by_text("is on 2 lists: 'monthly', 'weekly'").wait_for()
        page.get_by_label("list", exact=True).fill("monthly")
        page.get_by_role("button", name="Show their copy").click()
        page.locator("#reader").get_by_text("on the list \u201cmonthly\u201d").wait_for()
        assert alert.is_hidden()
        page.frame_locator("#phone").get_by_text(TWO_LISTS).first.wait_for(timeout=15000)

        page.get_by_role("button", name="Sample reader").click()
        page.locator("#reader").get_by_text("Showing the sample reader").wait_for()
        page.frame_locator("#phone").get_by_text("reader@example.com").first.wait_for()
    finally:
        page.close()
        app.state.readers.close()


@pytest.mark.single_backend  # never opens the store
def test_check_links_button_lists_the_broken_ones(project, serve_app, browser, tmp_path) -> None:
    from tests.support.link_sites import link_sites

    with link_sites(tmp_path) as sites:
        issue = project / "issues" / "links.md"
        issue.write_text(
            '---\ntitle: "Links"\nnumber: 3\n---\n'
            f"## [Fine]({sites.http}/ok)\n- x\n## [Moved]({sites.http}/moved)\n- x\n"
            f"## [Missing]({sites.http}/missing)\n- x\n",
            encoding="utf-8",
        )
        base = serve_app(create_app(issue, load_settings(), link_timeout=5))
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(base + "/")
            page.frame_locator("#phone").get_by_text("Missing").wait_for(timeout=15000)
            assert sites.count("/missing") == 0  # nothing is fetched until asked
            page.get_by_role("button", name="Check links").click()
            status = page.get_by_role("status")
            status.get_by_text("Links: 3 checked (3 addresses): 1 error(s), 1 warning(s)").wait_for(
                timeout=15000
            )
            page.locator("#links li.error").get_by_text(
                f"{issue}:9:14: error: link {sites.http}/missing: HTTP 404"
            ).wait_for()
            page.locator("#links li.warning").get_by_text("redirects (301)").wait_for()
        finally:
            page.close()
