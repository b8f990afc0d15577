"""The preference page in a real headless chromium, driven from the keyboard: leave all,
rejoin, a refusal; axe-core's WCAG 2 A and AA rules on every state of the page (the
reader subscribed, unsubscribed, a refused rejoin, a form value that is not theirs, a
test copy's link, a bad link).

Screenshots go to /tmp/newsletter-preferences-*.png for a human look (never committed).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipeline.audience.tokens import make_test_token
from pipeline.web.pages import mask
from tests.support.axe import assert_accessible
from tests.support.cli import TEST_SECRET
from tests.support.preference_site import (
    OTHER,
    OTHER_STATES,
    READER,
    READER_STATES,
    PreferenceSite,
    preference_site,
)

pytestmark = pytest.mark.browser

SCREENSHOTS = Path("/tmp")


@pytest.fixture
def site(project: Path, serve_app) -> Iterator[PreferenceSite]:
    with preference_site(project, serve_app) as running:
        yield running


@pytest.fixture
def page(browser) -> Iterator[Any]:
    """A fresh browser context (no cookies) at a phone's width; fails the test on console
    errors other than chromium's own line about a 4xx answer (a CSP violation lands there)."""
    context = browser.new_context(locale="ko-KR", viewport={"width": 390, "height": 740})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    yield tab
    assert [e for e in errors if "Failed to load resource" not in e] == []
    assert context.cookies() == [], "the preference page must not set cookies"
    context.close()


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"newsletter-preferences-{name}.png"), full_page=True)


def heading(page: Any) -> str:
    return str(page.get_by_role("heading", level=1).inner_text())


def focused(page: Any) -> dict[str, str]:
    """The focused element: its tag, accessible name and focus outline."""
    return dict(
        page.evaluate(
            """() => { const e = document.activeElement, s = getComputedStyle(e);
            return {tag: e.tagName, name: e.getAttribute('aria-label') || e.innerText,
                    outline: s.outlineStyle, width: s.outlineWidth}; }"""
        )
    )


def tab_to(page: Any, name: str) -> None:
    """Press Tab until the button named `name` has the focus, and check that the focus is
    visible on it (not the browser's default: the page's 3px outline)."""
    for _ in range(12):
        page.keyboard.press("Tab")
        now = focused(page)
        if now["name"] == name:
            assert now["tag"] == "BUTTON"
            assert now["outline"] == "solid" and now["width"] == "3px", now
            return
    raise AssertionError(f"Tab never reached the button {name!r}")


def row(page: Any, list_name: str) -> Any:
    """The table row of `list_name` (its header cell starts with the name)."""
    header = page.get_by_role("rowheader", name=re.compile(rf"^{re.escape(list_name)}\b"))
    return page.get_by_role("row").filter(has=header)


def press(page: Any, key: str = "Enter") -> Any:
    with page.expect_navigation() as navigation:
        page.keyboard.press(key)
    return navigation.value


def test_leave_all_and_rejoin_with_the_keyboard(site: PreferenceSite, page) -> None:
    url = site.base_url + site.path()
    before = site.snapshot()
    response = page.goto(url)
    assert response is not None and response.status == 200
    assert page.locator("html").get_attribute("lang") == "ko"
    assert heading(page) == "수신 거부" and page.title() == "수신 거부"
    main = page.locator("main").inner_text()
    assert mask(READER) in main and READER not in main
    rows = page.get_by_role("row")
    assert rows.count() == 1 + len(READER_STATES)  # a header row, and one per list
    for name, words in [
        ("weekly", "구독 중"),
        ("archive", "수신 거부됨"),
        ("events", "확인 대기 중"),
    ]:
        assert words in row(page, name).inner_text()
    assert_accessible(page, "the preference page, subscribed")
    shot(page, "1-subscribed")
    # WCAG 1.4.10 (reflow): at 320 CSS pixels nothing needs scrolling sideways.
    page.set_viewport_size({"width": 320, "height": 740})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.set_viewport_size({"width": 390, "height": 740})
    assert site.snapshot() == before, "opening the link must not change anything"

    # The first Tab reaches the link's own list: the one the reader came to leave.
    page.keyboard.press("Tab")
    assert focused(page)["name"] == "수신 거부: weekly"
    tab_to(page, "모든 목록에서 수신 거부")
    press(page)
    assert page.url == url  # the form posts back to the same address: no redirect
    assert heading(page) == "모든 목록에서 수신 거부되었습니다"
    assert site.states() == dict.fromkeys(READER_STATES, "unsubscribed")
    assert site.states(OTHER) == OTHER_STATES
    assert page.get_by_role("button", name="모든 목록에서 수신 거부").count() == 0
    assert_accessible(page, "the preference page, unsubscribed from everything")
    shot(page, "2-left-all")

    tab_to(page, "다시 구독하기: weekly")
    press(page, " ")  # Space presses a button too
    assert heading(page) == "다시 구독되었습니다"
    assert site.states() == dict.fromkeys(READER_STATES, "unsubscribed") | {"weekly": "subscribed"}
    assert site.status() == "active"
    assert "구독 중" in row(page, "weekly").inner_text()
    assert_accessible(page, "the preference page after a rejoin")
    shot(page, "3-rejoined")

    # A bounce arrives while the page is open: its rejoin button is refused, kindly.
    site.set_status(READER, "bounced")
    before = site.snapshot()
    tab_to(page, "다시 구독하기: archive")
    response = press(page)
    assert response.status == 409
    assert heading(page) == "다시 구독할 수 없습니다"
    assert mask(READER) in page.locator("main").inner_text()
    assert page.get_by_role("button").count() == 0
    assert site.snapshot() == before
    assert_accessible(page, "the refusal page")
    shot(page, "4-refused")


def test_a_form_value_that_is_not_theirs_and_an_unconfirmed_rejoin(
    site: PreferenceSite, page
) -> None:
    """What a forged form gets in a browser: a list id changed in the page (the other
    person's list), and a rejoin of a signup that waits for its confirmation link."""
    page.goto(site.base_url + site.path())
    before = site.snapshot()
    archive = page.get_by_role("button", name="다시 구독하기: archive")
    archive.locator("xpath=..").locator('input[name="list"]').evaluate(
        "(input, id) => input.value = id", str(site.list_ids["private"])
    )
    with page.expect_navigation() as navigation:
        archive.click()
    assert navigation.value.status == 400
    assert heading(page) == "처리할 수 없는 요청"
    assert site.snapshot() == before
    assert_accessible(page, "the page for a form value that is not the reader's")
    shot(page, "5-bad-request")

    page.goto(site.base_url + site.path())
    archive = page.get_by_role("button", name="다시 구독하기: archive")
    archive.locator("xpath=..").locator('input[name="list"]').evaluate(
        "(input, id) => input.value = id", str(site.list_ids["events"])
    )
    with page.expect_navigation() as navigation:
        archive.click()
    assert navigation.value.status == 409
    assert heading(page) == "아직 구독이 확인되지 않았습니다"
    assert "확인 메일의 링크" in page.locator("main").inner_text()
    assert site.snapshot() == before
    assert_accessible(page, "the page refusing an unconfirmed rejoin")
    shot(page, "6-unconfirmed")


def test_the_test_copy_and_bad_link_pages(site: PreferenceSite, page) -> None:
    before = site.snapshot()
    response = page.goto(f"{site.base_url}/unsubscribe/{make_test_token(TEST_SECRET.encode(), 25)}")
    assert response is not None and response.status == 200
    assert heading(page) == "테스트 메일입니다"
    assert page.get_by_role("button").count() == 0
    assert_accessible(page, "the test-copy page")
    shot(page, "7-test-copy")

    response = page.goto(f"{site.base_url}/unsubscribe/{'Q' * 44}")
    assert response is not None and response.status == 400
    assert heading(page) == "잘못된 링크"
    assert page.get_by_role("button").count() == 0
    assert_accessible(page, "the bad-link page")
    shot(page, "8-bad-link")
    assert site.snapshot() == before


def test_the_english_page_in_a_browser(project: Path, serve_app, page) -> None:
    with preference_site(project, serve_app, lang="en") as site:
        page.goto(site.base_url + site.path(list_name="archive"))
        assert page.locator("html").get_attribute("lang") == "en"
        assert heading(page) == "You are unsubscribed"
        assert_accessible(page, "the English preference page")
        page.set_viewport_size({"width": 320, "height": 740})
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        with page.expect_navigation():
            page.get_by_role("button", name="Resubscribe: archive").click()
        assert heading(page) == "You are subscribed again"
        assert site.states()["archive"] == "subscribed"
        shot(page, "9-english")
