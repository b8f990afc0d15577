"""The public site around the archive, called in-process after two issues were sent: the
home page at `/` (name, logo, description, signup form, newest issues), the share tags
and canonical URL of every public page read back with a parser, the subscribe box and
the links between issues."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin

import httpx
import pytest

from pipeline.db import Store
from pipeline.settings import load_settings
from pipeline.web.app import create_app
from tests.support import archive as archive_fixtures
from tests.support.archive import PREHEADER_26, TITLE_25, TITLE_26, SentIssues
from tests.support.cli import ok

PUBLIC_URL = "https://weekly.example.com"  # newsletter.toml's
LOGO = "https://weekly.example.com/logo.png"
DESCRIPTION = "매주 토요일, 엔지니어링 아티클 요약"

sent_per_backend = archive_fixtures.sent_per_backend
sent_once = archive_fixtures.sent_once
database_url = archive_fixtures.database_url
sent = archive_fixtures.sent
client = archive_fixtures.client

pytestmark = pytest.mark.single_backend  # the pages read the store as the archive does


@pytest.fixture(autouse=True)
def logo(project: Path) -> None:
    """A logo in the theme (before the app is made): the sample's settings have none."""
    toml = project / "newsletter.toml"
    toml.write_text(toml.read_text(encoding="utf-8") + f'logo = "{LOGO}"\n', encoding="utf-8")


class Page(HTMLParser):
    """What a page declares in its head and which forms and links it has."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.meta: dict[str, str] = {}
        self.links: list[dict[str, str]] = []
        self.inputs: list[dict[str, str]] = []
        self.forms: list[dict[str, str]] = []
        self.images: list[dict[str, str]] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "meta" and ("property" in values or "name" in values):
            self.meta[values.get("property") or values["name"]] = values.get("content", "")
        elif tag in ("link", "a"):
            self.links.append({"tag": tag, **values})
        elif tag == "input":
            self.inputs.append(values)
        elif tag == "form":
            self.forms.append(values)
        elif tag == "img":
            self.images.append(values)

    def canonical(self) -> str:
        return next(v["href"] for v in self.links if v.get("rel") == "canonical")

    def rel(self, rel: str) -> dict[str, str] | None:
        return next((v for v in self.links if v["tag"] == "a" and v.get("rel") == rel), None)


def _lists(cli, *default: str, default_only: bool = False) -> None:
    """`weekly` (the sent issues' list) public, `announcements` too; `default` ticked."""
    if not default_only:
        ok(cli("lists", "update", "weekly", "--public", "--description", "매주 토요일 아침"))
        ok(cli("lists", "create", "announcements", "--public"))
    if default:
        toml = Path("newsletter.toml")
        names = ", ".join(f'"{name}"' for name in default)
        toml.write_text(toml.read_text(encoding="utf-8") + f"default_lists = [{names}]\n")


def test_the_home_page_has_name_logo_description_signup_and_newest_issues(
    client: httpx.Client, sent: SentIssues, cli
) -> None:
    ok(cli("lists", "update", "weekly", "--public"))
    response = client.get("/")
    assert response.status_code == 200
    page = Page(response.text)
    assert "<h1>Article Weekly</h1>" in response.text and DESCRIPTION in response.text
    assert {"src": LOGO, "alt": "Article Weekly", "width": "120"}.items() <= page.images[0].items()
    # The one public list is chosen for the reader: typing an address is enough.
    boxes = [i for i in page.inputs if i.get("type") == "checkbox"]
    assert [(b["value"], "checked" in b) for b in boxes] == [("weekly", True)]
    assert page.forms[0]["action"] == f"{PUBLIC_URL}/subscribe"
    issues = [a["href"] for a in page.links if a["href"].startswith("issues/")]
    assert issues[:2] == ["issues/26", "issues/25"]
    # The form may post to the signup, and nowhere else.
    policy = response.headers["content-security-policy"]
    assert f"form-action 'self' {PUBLIC_URL};" in policy


def _app(asgi_client: Callable[..., httpx.Client]) -> Iterator[httpx.Client]:
    """The web app with the settings as the test left them."""
    with (
        Store.open(os.environ["NEWSLETTER_DATABASE_URL"]) as store,
        asgi_client(create_app(load_settings(), store, issues=Path("issues"))) as opened,
    ):
        yield opened


def _ticked(client: httpx.Client) -> dict[str, bool]:
    page = Page(client.get("/").text)
    return {i["value"]: "checked" in i for i in page.inputs if i.get("type") == "checkbox"}


def test_with_two_public_lists_the_default_lists_are_ticked(
    sent: SentIssues, cli, asgi_client: Callable[..., httpx.Client]
) -> None:
    _lists(cli)
    for client in _app(asgi_client):
        assert _ticked(client) == {"announcements": False, "weekly": False}
    _lists(cli, "weekly", default_only=True)
    for client in _app(asgi_client):
        assert _ticked(client) == {"announcements": False, "weekly": True}


def test_share_tags_and_canonical_url_of_every_public_page(
    client: httpx.Client, sent: SentIssues
) -> None:
    expected = {
        "/": ("website", "Article Weekly", DESCRIPTION, f"{PUBLIC_URL}/"),
        "/issues": ("website", "Article Weekly 지난 호", DESCRIPTION, f"{PUBLIC_URL}/issues"),
        "/issues/26": ("article", TITLE_26, PREHEADER_26, f"{PUBLIC_URL}/issues/26"),
    }
    for path, (kind, title, description, url) in expected.items():
        page = Page(client.get(path).text)
        meta = page.meta
        assert page.canonical() == url == meta["og:url"], path
        assert meta["og:type"] == kind and meta["og:site_name"] == "Article Weekly"
        assert meta["og:title"].startswith(title) and meta["twitter:title"] == meta["og:title"]
        assert meta["og:description"] == description == meta["twitter:description"]
        # The sample issue has no image of its own: the logo stands for it.
        assert meta["og:image"] == LOGO == meta["twitter:image"]
        assert meta["twitter:card"] == "summary_large_image"


def test_an_issue_page_links_the_issues_before_and_after_it(
    client: httpx.Client, sent: SentIssues
) -> None:
    newest = client.get("/issues/26")
    page = Page(newest.text)
    older = page.rel("prev")
    assert older is not None and page.rel("next") is None
    assert urljoin(str(newest.url), older["href"]) == str(newest.url).replace("26", "25")
    first = Page(client.get(urljoin(str(newest.url), older["href"])).text)
    assert first.rel("prev") is None and first.rel("next") is not None
    assert TITLE_25 in client.get("/issues/25").text


def test_the_subscribe_box_signs_up_for_the_default_lists(
    sent: SentIssues, cli, asgi_client: Callable[..., httpx.Client]
) -> None:
    _lists(cli, "weekly")
    for client in _app(asgi_client):
        for path in ("/issues", "/issues/26"):
            page = Page(client.get(path).text)
            form = next(f for f in page.forms if f.get("action") == f"{PUBLIC_URL}/subscribe")
            assert form["method"] == "post"
            hidden = [i["value"] for i in page.inputs if i.get("type") == "hidden"]
            assert hidden == ["weekly"], path
        # What the box posts is a signup like the form's.
        answer = client.post("/subscribe", data={"email": "box@example.com", "list": "weekly"})
        assert answer.status_code == 200 and "메일함" in answer.text


def test_without_a_list_chosen_the_box_leads_to_the_whole_form(
    client: httpx.Client, sent: SentIssues, cli
) -> None:
    _lists(cli)
    page = Page(client.get("/issues").text)
    assert not [f for f in page.forms if f.get("action", "").endswith("/subscribe")]
    assert any(a["href"] == f"{PUBLIC_URL}/#subscribe" for a in page.links)


def test_readers_see_a_list_s_title_and_the_name_stays_its_identifier(
    sent: SentIssues, cli, asgi_client: Callable[..., httpx.Client]
) -> None:
    ok(cli("lists", "update", "weekly", "--public", "--title", "주간 아티클 요약"))
    ok(cli("lists", "create", "announcements", "--public", "--title", "공지"))
    rows = json.loads(ok(cli("lists", "--format", "json")).stdout)
    assert {r["name"]: r["title"] for r in rows} == {
        "announcements": "공지",
        "weekly": "주간 아티클 요약",
    }
    for client in _app(asgi_client):
        text = client.get("/subscribe").text
        assert ">주간 아티클 요약</label>" in text and ">공지</label>" in text
        assert 'value="weekly"' in text and ">weekly<" not in text
    ok(cli("lists", "update", "weekly", "--title", ""))
    rows = json.loads(ok(cli("lists", "--format", "json")).stdout)
    assert {r["name"]: r["title"] for r in rows}["weekly"] is None


@pytest.mark.parametrize("path", ["/nowhere", "/issues/99", "/issues/x", "/nowhere/"])
def test_an_address_without_a_page_answers_in_the_site_s_language(
    client: httpx.Client, path: str
) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    page = Page(response.text)
    assert "<title>페이지를 찾을 수 없습니다</title>" in response.text
    assert any(a.get("href") == f"{PUBLIC_URL}/" for a in page.links)
