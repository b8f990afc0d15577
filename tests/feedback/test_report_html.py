"""The HTML report of a campaign: the funnel, the rates against SES's and Gmail's thresholds
and the list week by week, read back from the page's tables and charts; and a page that
fetches nothing."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import lxml.html
import pytest

from pipeline.db import Store
from pipeline.feedback import report_html
from pipeline.feedback.history import week_of
from tests.support import db
from tests.support.reports import LINK, STORY_WEEKS, monday, send_issue, the_story

Page = lxml.html.HtmlElement


def build(lang: str = "en", list_name: str | None = None) -> tuple[str, Page]:
    with Store.open(db.engine().url.render_as_string(hide_password=False)) as store:
        _, text = report_html.build(store, 25, list_name, name="Article Weekly", lang=lang)
    return text, lxml.html.document_fromstring(text)


def table(page: Page, caption: str) -> list[list[str]]:
    """The rows (header cell first) of the table whose caption starts with `caption`."""
    for found in page.iter("table"):
        if found.findtext("caption", "").startswith(caption):
            return [
                [cell.text_content().strip() for cell in row.iter("th", "td")]
                for row in found.iter("tr")
            ][1:]
    raise AssertionError(f"no table captioned {caption!r}")


def column(rows: list[list[str]], index: int) -> list[int]:
    return [int(row[index].replace(",", "")) for row in rows]


def assert_self_contained(text: str, page: Page) -> None:
    """Nothing the browser would fetch: no script, link, image, frame, object, no URL in an
    attribute or a style, and a CSP that allows only the page's own inline styles."""
    assert not page.xpath("//script|//link|//img|//iframe|//object|//embed|//image|//use")
    for element in page.iter():
        for name, value in element.attrib.items():
            assert not re.search(r"(https?:)?//|url\(", value), (element.tag, name, value)
    for style in page.iter("style"):
        assert not re.search(r"url\(|@import|https?:", style.text or ""), "external CSS"
    (csp,) = page.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["default-src"] == ["'none'"]
    for sources in directives.values():
        assert set(sources) <= {"'none'", "'unsafe-inline'"}, csp
    # Any http(s) address left is plain text (a clicked link in the links table).
    for where in re.findall(r"https?://[^\s<\"']+", text):
        assert where == LINK, where


def test_the_funnel_rates_and_weeks_of_a_campaign(project, cli, monkeypatch) -> None:
    the_story(project, cli, monkeypatch)
    text, page = build("en")
    assert page.get("lang") == "en"
    assert page.findtext(".//h1") == "Article Weekly issue 25: campaign report"
    funnel = table(page, "From targeted to clicked")
    assert [row[0] for row in funnel] == ["Targeted", "Sent", "Delivered", "Opened", "Clicked"]
    assert column(funnel, 1) == [5, 5, 4, 3, 2]  # unique
    assert [row[2] for row in funnel] == ["–", "–", "4", "4", "3"]  # every event
    assert [row[3] for row in funnel] == ["100%", "100%", "80%", "60%", "40%"]
    assert table(page, "Most clicked links") == [[LINK, "2", "3"]]
    # The chart says the same: one bar per stage, longest first, labelled with the numbers.
    svg = page.get_element_by_id("funnel")
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "funnel-title funnel-desc"
    assert "5 targeted: 5 sent, 4 delivered, 3 opened, 2 clicked" in svg.findtext("desc")
    widths = [float(r.get("width")) for r in svg.iter("rect")]
    assert widths == sorted(widths, reverse=True) and widths[-1] == pytest.approx(widths[0] * 0.4)
    assert "3 (60%)" in [t.text for t in svg.iter("text")]

    rates = table(page, "Bounce and complaint rates")
    assert rates == [
        ["Bounce rate (SES)", "20%", "warning 5%, review 10%", "review level"],
        ["Complaint rate (SES)", "25%", "warning 0.1%, review 0.5%", "review level"],
        ["Spam rate (Gmail)", "25%", "keep below 0.1%, limit 0.3%", "0.3% or more: over Gmail's limit"],
    ]  # fmt: skip
    prose = page.text_content()
    assert "SES warns at 5% and reviews the account at 10%" in prose
    assert "keep the spam rate below 0.1% and never to reach 0.3%" in prose
    # The thresholds are drawn as lines, labelled, on each rate chart.
    labels = [t.text for t in page.get_element_by_id("rate-spam").iter("text")]
    assert {"keep below 0.1%", "limit 0.3%"} <= set(labels)
    assert len(page.get_element_by_id("rate-bounce").findall("line")) == 2

    weeks = table(page, "The weekly list week by week")
    expected_labels = [week_of(monday(n)).label for n in (3, 2, 1, 0)]
    assert [row[0] for row in weeks] == expected_labels
    names = ["subscribers", "joined", "unsubscribed", "bounced", "complained"]
    for index, name in zip((2, 3, 4, 5, 7), names, strict=True):
        assert column(weeks, index) == STORY_WEEKS[name], name
    assert "ISO weeks (Monday to Sunday) in UTC" in prose
    changes = page.get_element_by_id("weekly-changes")
    assert len(changes.findall(".//rect[@class='bar s2']")) == 4  # joined, one per week
    line = page.get_element_by_id("weekly-subscribers").find(".//polyline")
    assert len(line.get("points").split()) == 4
    assert_self_contained(text, page)


def test_korean_headings_in_a_korean_newsletter(project, cli, monkeypatch) -> None:
    the_story(project, cli, monkeypatch)
    _, page = build("ko")
    assert page.get("lang") == "ko"
    assert page.findtext(".//h1") == "Article Weekly 제25호 발송 보고서"
    headings = [h.text for h in page.iter("h2")]
    assert headings == ["발송 단계", "반송률과 스팸 신고율", "weekly 목록의 주별 변화"]
    funnel = table(page, "발송 단계")
    assert [row[0] for row in funnel] == ["대상", "발송", "전달", "열람", "클릭"]
    weeks = table(page, "weekly 목록의 주별 변화")
    monday_ = monday(3)
    assert weeks[0][1].startswith(f"{monday_.month}월 {monday_.day}일 ~ ")


def test_a_campaign_with_no_events_yet_shows_zeros(project, cli, monkeypatch) -> None:
    send_issue(cli, monkeypatch, "weekly")
    text, page = build("en")
    assert column(table(page, "From targeted to clicked"), 1) == [5, 5, 0, 0, 0]
    rates = table(page, "Bounce and complaint rates")
    assert [row[1] for row in rates] == ["0%", "0%", "0%"]
    assert [row[3] for row in rates][:2] == ["within limits", "within limits"]
    assert "No SES events yet" in page.text_content()
    weeks = table(page, "The weekly list")
    assert weeks[-1][0] == week_of(datetime.now(UTC)).label
    assert column(weeks, 2)[-1] == 5 and column(weeks, 3)[-1] == 5
    assert_self_contained(text, page)


def test_several_lists_need_a_choice(project, cli, monkeypatch) -> None:
    from pipeline.errors import InputError, NotFoundError

    send_issue(cli, monkeypatch, "weekly", "friends")
    with pytest.raises(InputError, match="several lists: weekly, friends"):
        build("en")
    _, page = build("en", "friends")
    assert table(page, "The friends list")
    with pytest.raises(NotFoundError):
        build("en", "nobody")


def test_a_deep_history_shows_the_last_26_weeks(project, cli, monkeypatch) -> None:
    from tests.support.reports import EMAILS, set_membership

    send_issue(cli, monkeypatch, "weekly")
    set_membership(EMAILS[0], "weekly", subscribed_at=monday(40))
    set_membership(EMAILS[1], "weekly", subscribed_at=monday(30))
    _, page = build("en")
    weeks = table(page, "The weekly list")
    assert len(weeks) == 26
    assert weeks[0][0] == week_of(monday(25)).label
    # Both early joiners are counted in the first week shown.
    assert column(weeks, 2)[0] == 2
    assert "2 earlier week(s) with data left out" in page.text_content()


def test_charts_escape_what_they_draw() -> None:
    """The charts module escapes what it is given (a list name is the publisher's text)."""
    from pipeline.feedback import charts

    svg = charts.bars("x", "<b>", "a & b", ["<script>"], [1], ["1"])
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a &amp; b" in svg


def test_a_complaint_on_another_list_suppresses_but_counts_there(project, cli, monkeypatch) -> None:
    """Suppression reaches every list, so the person leaves `weekly`'s count too; the
    complaint itself is counted on the list whose campaign drew it."""
    from tests.support.reports import EMAILS, at, event, ingest
    from tests.support.sending import deliveries

    send_issue(cli, monkeypatch, "weekly", "friends")
    ids = {email: row["message_id"] for email, row in deliveries("friends").items()}
    ingest(cli, project / "c.jsonl", [event("Complaint", ids[EMAILS[0]], EMAILS[0], at(0, 0, 0))])
    weekly = table(build("en", "weekly")[1], "The weekly list")
    friends = table(build("en", "friends")[1], "The friends list")
    assert column(weekly, 2)[-1] == column(friends, 2)[-1] == 4  # subscribers
    assert (column(weekly, 7)[-1], column(friends, 7)[-1]) == (0, 1)  # complained
