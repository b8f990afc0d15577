"""Every reader page in Debian's chromium, as one reader meets them: the home page, the
archive's index and an issue, the page for an address without one, the signup form, the
check-your-inbox page, the confirmation page (scripts held back, as with scripts off) and
the confirmed page, the preference page and the page after leaving a list. Each through
axe-core: every WCAG 2 A and AA rule at 375 px (light) and at 1000 px (dark), and colour
contrast at both widths in both schemes; with no horizontal scrolling at 320 px, and with
the theme's logo and accent colour.

One browser context for the whole walk: a browser test costs a page load per page, not
a launch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import archive as archive_fixtures
from tests.support.archive import TITLE_26, SentIssues
from tests.support.axe import assert_accessible
from tests.support.cli import ok
from tests.support.sending import use_ses
from tests.support.ses_stub import SesStub
from tests.support.signup import SignupSite, start_site

pytestmark = [pytest.mark.browser, pytest.mark.single_backend]

READER = "reader@example.com"
LOGO = "https://weekly.example.com/logo.png"
ACCENT = "rgb(11, 87, 208)"  # newsletter.toml's #0b57d0
DARK_ACCENT = "rgb(138, 180, 248)"  # the theme's default dark_accent #8ab4f8

sent_per_backend = archive_fixtures.sent_per_backend
sent_once = archive_fixtures.sent_once
database_url = archive_fixtures.database_url
sent = archive_fixtures.sent

# The accent is on a link, a button or an article title, or the page's top stripe.
ACCENT_USED = """
(accent) => [...document.querySelectorAll('a, button, h1, h2, h3')].some((el) => {
  const style = getComputedStyle(el);
  return style.color === accent || style.backgroundColor === accent;
}) || getComputedStyle(document.body).borderTopColor === accent
"""


@pytest.fixture
def site(
    sent: SentIssues, project: Path, cli, serve_app, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SignupSite]:
    toml = project / "newsletter.toml"  # a logo in the theme: the sample's has none
    toml.write_text(toml.read_text(encoding="utf-8") + f'logo = "{LOGO}"\n', encoding="utf-8")
    ok(cli("lists", "update", "weekly", "--public", "--description", "매주 토요일 아침"))
    ok(cli("lists", "create", "announcements", "--public"))
    with SesStub() as stub:
        use_ses(monkeypatch, stub.endpoint_url)
        running = start_site(serve_app, stub)
        yield running
        running.store.close()


def looks_right(page: Any, what: str, *, logo: bool = True) -> None:
    """The page as it stands: accessible in every size and scheme, no sideways scroll on
    the narrowest phone, the theme's logo and accent on it."""
    for width in (375, 1000):
        page.set_viewport_size({"width": width, "height": 800})
        for scheme, accent in (("light", ACCENT), ("dark", DARK_ACCENT)):
            page.emulate_media(color_scheme=scheme)
            # Every WCAG 2 A/AA rule once at each width (the layout changes with it), in
            # light at one and dark at the other; the rule that depends on the scheme
            # (colour contrast) in all four.
            every_rule = (width, scheme) in ((375, "light"), (1000, "dark"))
            rules = None if every_rule else ["color-contrast"]
            assert_accessible(page, f"{what} at {width} px, {scheme}", rules=rules)
            assert page.evaluate(ACCENT_USED, accent), f"{what}: no accent in {scheme}"
    page.emulate_media(color_scheme="light")
    page.set_viewport_size({"width": 320, "height": 700})
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= 320, f"{what} scrolls sideways at 320 px ({scroll} px wide)"
    if logo:
        assert page.locator(f'img[src="{LOGO}"]').count() >= 1, f"{what}: no logo"


def test_every_reader_page_in_every_size_and_scheme(site: SignupSite, browser, cli) -> None:
    context = browser.new_context(locale="ko-KR")
    # Nothing leaves loopback: the logo's host answers with nothing (an empty image).
    context.route("https://**/*", lambda route: route.fulfill(status=204))
    page = context.new_page()
    try:
        base = site.base_url
        page.goto(base + "/")
        assert page.get_by_role("heading", level=1).inner_text() == "Article Weekly"
        looks_right(page, "the home page")
        page.goto(base + "/issues")
        looks_right(page, "the archive's index")
        page.get_by_role("link", name=TITLE_26).click()
        page.wait_for_url("**/issues/26")
        # The issue as it was sent, before this test gave the theme a logo.
        looks_right(page, "an issue's page", logo=False)

        page.goto(base + "/nowhere")
        looks_right(page, "the page for an address without one")

        page.goto(base + "/subscribe")
        looks_right(page, "the signup form")
        page.get_by_label("이메일 주소").fill(READER)
        page.get_by_label("weekly").check()
        with page.expect_navigation():
            page.get_by_role("button", name="구독 신청").click()
        assert page.get_by_role("heading", level=1).inner_text() == "메일함을 확인해 주세요"
        looks_right(page, "the check-your-inbox page")

        site.run()
        link = site.confirmation_link(READER)
        # As with scripts off: the page as served, its automatic submit held back.
        held = context.new_page()
        held.add_init_script("HTMLFormElement.prototype.submit = function () {};")
        held.goto(link)
        assert held.get_by_role("heading", level=1).inner_text() == "구독 확인"
        looks_right(held, "the confirmation page")
        held.close()
        page.goto(link)  # with scripts: confirmed on load
        page.wait_for_function("document.querySelector('h1').innerText === '구독이 확인되었습니다'")
        looks_right(page, "the confirmed page")
        latest = page.get_by_role("link", name=f"최신 호 읽기: {TITLE_26}")
        assert latest.get_attribute("href") == "https://weekly.example.com/issues/26"

        shown = json.loads(ok(cli("subscribers", "show", READER, "--format", "json")).stdout)
        unsubscribe = next(m["unsubscribe_url"] for m in shown["lists"] if m["name"] == "weekly")
        page.goto(site.local(unsubscribe))
        looks_right(page, "the preference page")
        with page.expect_navigation():
            page.get_by_role("button").first.click()
        looks_right(page, "the preference page after leaving")
    finally:
        context.close()
