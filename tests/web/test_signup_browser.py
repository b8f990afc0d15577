"""The signup page and the confirmation page in a real headless chromium, with scripts on
(the link confirms on load, no click) and off (one click), each checked by axe-core.

Screenshots go to /tmp/newsletter-signup-*.png for a human look (never committed).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.axe import assert_accessible
from tests.support.sending import use_ses
from tests.support.ses_stub import SesStub
from tests.support.signup import SignupSite, make_public_lists, start_site

pytestmark = pytest.mark.browser

READER = "reader@example.com"
SCREENSHOTS = Path("/tmp")


@pytest.fixture
def site(project: Path, cli, serve_app, monkeypatch: pytest.MonkeyPatch) -> Iterator[SignupSite]:
    with SesStub() as stub:
        use_ses(monkeypatch, stub.endpoint_url)
        make_public_lists()
        running = start_site(serve_app, stub)
        yield running
        running.store.close()


def _tab(browser, *, scripts: bool) -> tuple[Any, Any]:
    context = browser.new_context(
        locale="ko-KR", viewport={"width": 390, "height": 740}, java_script_enabled=scripts
    )
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.console_errors = errors
    return context, tab


def _signed_up(site: SignupSite) -> str:
    assert site.post(READER, "weekly").status_code == 200
    site.run()
    return site.confirmation_link(READER)


def test_the_signup_page_in_a_browser(site: SignupSite, browser) -> None:
    context, page = _tab(browser, scripts=True)
    try:
        response = page.goto(f"{site.base_url}/subscribe")
        assert response is not None and response.status == 200
        assert page.locator("html").get_attribute("lang") == "ko"
        assert page.get_by_role("heading", level=1).inner_text() == "Article Weekly 구독하기"
        assert page.get_by_role("main").count() == 1
        assert_accessible(page, "the signup page")
        # The honeypot is neither seen nor reached by the keyboard.
        assert not page.locator("#signup-website").is_visible() or page.evaluate(
            "document.getElementById('signup-website').getBoundingClientRect().right < 0"
        )
        page.get_by_label("이메일 주소").fill(READER)
        page.get_by_label("이름 (선택)").fill("독자")
        page.get_by_label("weekly").check()
        page.get_by_label("announcements").check()
        page.keyboard.press("Tab")
        page.screenshot(path=str(SCREENSHOTS / "newsletter-signup-1-form.png"), full_page=True)
        with page.expect_navigation():
            page.get_by_role("button", name="구독 신청").click()
        assert page.get_by_role("heading", level=1).inner_text() == "메일함을 확인해 주세요"
        assert_accessible(page, "the check-your-inbox page")
        site.run()
        assert site.membership(READER) == "unconfirmed"
        assert site.membership(READER, "announcements") == "unconfirmed"

        # A bad address: the form again, the problem named next to the field.
        page.goto(f"{site.base_url}/subscribe")
        page.get_by_label("이메일 주소").evaluate(
            "e => e.type = 'text'"
        )  # past the browser's check
        page.get_by_label("이메일 주소").fill("not-an-address")
        with page.expect_navigation():
            page.get_by_role("button", name="구독 신청").click()
        assert page.get_by_role("heading", level=1).inner_text() == "신청서를 확인해 주세요"
        assert page.get_by_label("이메일 주소").get_attribute("aria-invalid") == "true"
        assert_accessible(page, "the signup form with a problem")
        page.screenshot(path=str(SCREENSHOTS / "newsletter-signup-2-problem.png"), full_page=True)
        assert [e for e in page.console_errors if "status of 400" not in e] == []
    finally:
        context.close()


def test_with_scripts_on_the_link_confirms_without_a_click(site: SignupSite, browser) -> None:
    link = _signed_up(site)
    context, page = _tab(browser, scripts=True)
    try:
        page.goto(link)
        page.wait_for_function(
            "document.querySelector('h1') && document.querySelector('h1').innerText"
            " === '구독이 확인되었습니다'"
        )
        assert page.url == link
        assert site.membership(READER) == "subscribed"
        assert "weekly" in page.locator("main").inner_text()
        assert_accessible(page, "the confirmed page")
        page.screenshot(path=str(SCREENSHOTS / "newsletter-signup-3-confirmed.png"), full_page=True)
        # The same link again: harmless.
        page.goto(link)
        assert page.get_by_role("heading", level=1).inner_text() == "이미 확인되었습니다"
        assert page.console_errors == [], "a CSP violation would be reported here"
        assert context.cookies() == []
    finally:
        context.close()


def test_with_scripts_off_one_click_confirms(site: SignupSite, browser) -> None:
    link = _signed_up(site)
    context, page = _tab(browser, scripts=False)
    try:
        page.goto(link)
        assert page.get_by_role("heading", level=1).inner_text() == "구독 확인"
        assert site.membership(READER) == "unconfirmed", "opening the page confirms nothing"
        button = page.get_by_role("button", name="구독 확인하기")
        assert page.get_by_role("button").count() == 1 and button.is_visible()
        page.screenshot(path=str(SCREENSHOTS / "newsletter-signup-4-confirm.png"), full_page=True)
        with page.expect_navigation():
            button.click()
        assert page.get_by_role("heading", level=1).inner_text() == "구독이 확인되었습니다"
        assert site.membership(READER) == "subscribed"
    finally:
        context.close()


def test_the_confirmation_page_passes_axe(site: SignupSite, browser) -> None:
    """axe-core needs scripts (its checks wait on timers), so the page is checked with
    scripts on and only its automatic submit held back: the markup is what was served."""
    link = _signed_up(site)
    context, page = _tab(browser, scripts=True)
    try:
        page.add_init_script("HTMLFormElement.prototype.submit = function () {};")
        page.goto(link)
        assert page.get_by_role("heading", level=1).inner_text() == "구독 확인"
        assert_accessible(page, "the confirmation page")
        assert site.membership(READER) == "unconfirmed"
        assert page.console_errors == []
    finally:
        context.close()
