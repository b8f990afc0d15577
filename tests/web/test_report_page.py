"""`GET /report/N` in a local server: the campaign report page over real HTTP, the choice of
list when an issue went to several, and clean 404s."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import lxml.html
import pytest
from starlette.applications import Starlette

from pipeline.db import Store
from pipeline.settings import load_settings
from pipeline.web.report_page import routes
from tests.support.reports import send_issue, the_story


@pytest.fixture
def client(project, asgi_client) -> Iterator[httpx.Client]:
    with Store.open(os.environ["NEWSLETTER_DATABASE_URL"]) as store:
        app = Starlette(routes=routes(store, load_settings()))
        with asgi_client(app) as opened:
            yield opened


def test_the_report_page_is_the_report(project, cli, monkeypatch, client) -> None:
    the_story(project, cli, monkeypatch)
    response = client.get("/report/25")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["cache-control"] == "no-store"
    page = lxml.html.document_fromstring(response.text)
    assert page.get("lang") == "ko"  # the repository's newsletter.toml: a Korean newsletter
    assert page.findtext(".//h1") == "Article Weekly 제25호 발송 보고서"
    assert len(page.xpath("//svg[@role='img']")) == 6
    # The same page as the file that `report --html` writes (but for the time it was made).
    ok_file = cli("report", "25", "--html", project / "report.html")
    assert ok_file.code == 0, ok_file.output
    written = (project / "report.html").read_text(encoding="utf-8")

    def without_time(text: str) -> str:
        return text.split("(UTC) ·", 1)[0] + text.split("(UTC)</p>", 1)[1]

    assert without_time(written) == without_time(response.text)


def test_new_events_show_on_the_next_request(project, cli, monkeypatch, client) -> None:
    from tests.support.reports import EMAILS, at, event, ingest
    from tests.support.sending import deliveries

    send_issue(cli, monkeypatch, "weekly")
    assert "아직 SES 이벤트가 없습니다" in client.get("/report/25").text
    ids = {email: row["message_id"] for email, row in deliveries().items()}
    ingest(cli, project / "e.jsonl", [event("Delivery", ids[e], e, at(0)) for e in EMAILS])
    page = lxml.html.document_fromstring(client.get("/report/25").text)
    cells = page.xpath("//table[1]//tr[th='전달']/td/text()")
    assert cells[:2] == ["5", "5"]


def test_several_lists_link_to_each_report(project, cli, monkeypatch, client) -> None:
    send_issue(cli, monkeypatch, "weekly", "friends & family")
    response = client.get("/report/25")
    assert response.status_code == 200
    page = lxml.html.document_fromstring(response.text)
    links = page.xpath("//main//a/@href")
    assert links == ["/report/25?list=weekly", "/report/25?list=friends%20%26%20family"]
    chosen = client.get(links[1])
    assert chosen.status_code == 200
    assert "friends &amp; family 목록의 주별 변화" in chosen.text


@pytest.mark.parametrize(
    "path", ["/report/26", "/report/25?list=nobody", "/report/²", "/report/99999999999999999999"]
)
def test_no_such_report_is_a_clean_404(project, cli, monkeypatch, client, path: str) -> None:
    send_issue(cli, monkeypatch, "weekly")
    response = client.get(path)
    assert response.status_code == 404
    assert "Traceback" not in response.text and "<h1>보고서 없음</h1>" in response.text


def test_the_preview_server_serves_the_report(project, cli, monkeypatch, asgi_client) -> None:
    """`newsletter preview` has the page too, opening the database only when asked."""
    from pipeline.web.preview import create_app
    from tests.support.cli import SAMPLE_ISSUE

    send_issue(cli, monkeypatch, "weekly")
    app = create_app(project / SAMPLE_ISSUE, load_settings())
    with asgi_client(app) as preview:
        response = preview.get("/report/25")
        assert response.status_code == 200
        page = lxml.html.document_fromstring(response.text)
        assert page.findtext(".//h1") == "Article Weekly 제25호 발송 보고서"
        assert preview.get("/report/26").status_code == 404
