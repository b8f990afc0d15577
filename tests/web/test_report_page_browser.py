"""The report in Debian's chromium: the file that `report --html` writes and the page the
server answers draw their SVG charts, fetch nothing, pass axe-core's WCAG 2 A and AA rules,
and follow the reader's light or dark scheme."""

from __future__ import annotations

import os

import pytest
from starlette.applications import Starlette

from pipeline.db import Store
from pipeline.settings import load_settings
from pipeline.web.report_page import routes
from tests.support.axe import assert_accessible
from tests.support.cli import ok
from tests.support.reports import send_issue, the_story

pytestmark = pytest.mark.browser


def check_page(browser, url: str, scheme: str, width: int = 1000) -> str:
    """Open the page; assert what a reader sees; return its background colour."""
    page = browser.new_page(color_scheme=scheme, viewport={"width": width, "height": 800})
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    try:
        page.goto(url)
        charts = page.locator("svg[role=img]")
        assert charts.count() == 6
        for i in range(charts.count()):
            box = charts.nth(i).bounding_box()
            assert box is not None and box["width"] > width / 2 and box["height"] > 30, box
            # Each chart is named by its title and described; the numbers are in a table.
            name = charts.nth(i).get_attribute("aria-labelledby") or ""
            assert all(page.locator(f"[id='{part}']").count() == 1 for part in name.split())
        targeted = page.locator("#funnel rect").first.bounding_box()
        assert targeted is not None and targeted["width"] > 100  # the longest bar is drawn
        assert requested == [url], requested  # the page itself, nothing else
        assert_accessible(page, f"the campaign report ({scheme})")
        return str(page.evaluate("getComputedStyle(document.body).backgroundColor"))
    finally:
        page.close()


def test_the_written_report_in_a_browser(project, cli, monkeypatch, browser) -> None:
    the_story(project, cli, monkeypatch)
    monkeypatch.setenv("NEWSLETTER_LANG", "en")
    ok(cli("report", "25", "--html", project / "report.html"))
    url = (project / "report.html").as_uri()
    light = check_page(browser, url, "light")
    dark = check_page(browser, url, "dark", width=375)  # a phone: the wide tables scroll
    assert (light, dark) == ("rgb(255, 255, 255)", "rgb(13, 17, 23)")


def test_the_served_report_in_a_browser(project, cli, monkeypatch, browser, serve_app) -> None:
    send_issue(cli, monkeypatch, "weekly")  # no events yet: zeros everywhere
    with Store.open(os.environ["NEWSLETTER_DATABASE_URL"]) as store:
        base = serve_app(Starlette(routes=routes(store, load_settings())))
        for scheme, width in (("light", 375), ("dark", 1000)):
            check_page(browser, f"{base}/report/25", scheme, width)
