"""The preview server over real HTTP: the copy of a subscriber by query, its errors as
messages (never a traceback), the link check, and the guards of a page that shows
subscriber data (its own host name only, no referrer)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pipeline.audience.tokens import verify_token
from pipeline.settings import load_settings
from pipeline.web.preview import create_app
from tests.support.cli import SAMPLE_ISSUE, TEST_SECRET
from tests.support.link_sites import LinkSites, link_sites
from tests.support.preview_readers import GONE, ONE_LIST, ONE_LIST_NAME, TWO_LISTS, seed_readers

TOKEN = re.compile(r"/unsubscribe/([A-Za-z0-9_-]{44})")


@pytest.fixture
def issue(project: Path) -> Path:
    path = project / "issues" / SAMPLE_ISSUE.name
    shutil.copy(SAMPLE_ISSUE, path)
    return path


@pytest.fixture
def client(issue: Path, asgi_client) -> Iterator[httpx.Client]:
    app = create_app(issue, load_settings())
    with asgi_client(app) as http:
        yield http
    app.state.readers.close()


def test_the_copy_of_a_subscriber_by_query(database_url: str, client: httpx.Client) -> None:
    seeded = seed_readers(database_url)
    reader = client.get("/api/reader", params={"as": ONE_LIST}).json()
    assert reader["name"] == ONE_LIST_NAME and reader["list"] == "weekly"
    page = client.get("/email.html", params={"as": ONE_LIST})
    (token,) = set(TOKEN.findall(page.text))
    assert verify_token(TEST_SECRET.encode(), token) == (
        seeded.ids[ONE_LIST],
        seeded.lists["weekly"],
    )
    assert reader["unsubscribe_url"].endswith("/unsubscribe/" + token)
    # the list picks the membership, and so the token
    both = client.get("/email.txt", params={"as": TWO_LISTS, "list": "monthly"}).text
    (token,) = set(TOKEN.findall(both))
    assert verify_token(TEST_SECRET.encode(), token) == (
        seeded.ids[TWO_LISTS],
        seeded.lists["monthly"],
    )
    # no address: the sample reader, as without the field
    sample = client.get("/api/reader", params={"as": ""}).json()
    assert sample["sample"] is True and "sample-token" in sample["unsubscribe_url"]
    assert "sample-token" in client.get("/email.html", params={"as": ""}).text
    gone = client.get("/api/reader", params={"as": GONE}).json()
    assert gone["note"] == "they would not get this issue: unsubscribed on 'weekly'"


def test_what_cannot_be_shown_is_a_message(database_url: str, client: httpx.Client) -> None:
    seed_readers(database_url)
    unknown = client.get("/api/reader", params={"as": "nobody@example.org"})
    assert unknown.status_code == 404
    assert unknown.json()["message"] == "no subscriber with the address nobody@example.org"
    several = client.get("/api/reader", params={"as": TWO_LISTS}).json()
    assert "'monthly', 'weekly'" in several["message"] and several["hint"]
    frame = client.get("/email.html", params={"as": "nobody@example.org"})
    assert frame.status_code == 200 and "This copy cannot be shown." in frame.text
    assert "no subscriber with the address nobody@example.org" in frame.text
    for answer in (unknown.text, several["error"], frame.text):
        assert "Traceback" not in answer


@pytest.mark.single_backend  # never opens the store
def test_only_its_own_host_name_and_no_referrer(client: httpx.Client) -> None:
    # A page elsewhere that rebinds its DNS name to 127.0.0.1 sends its own Host header.
    rebound = client.get("/api/reader", headers={"Host": "attacker.example:8025"})
    assert rebound.status_code == 400
    for host in ("127.0.0.1", "localhost"):
        assert client.get("/api/state", headers={"Host": f"{host}:1"}).status_code == 200
    page = client.get("/email.html")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"


@pytest.fixture
def sites(tmp_path: Path) -> Iterator[LinkSites]:
    with link_sites(tmp_path) as running:
        yield running


@pytest.mark.single_backend  # never opens the store
def test_the_link_check(project: Path, serve_app, sites: LinkSites) -> None:
    path = project / "issues" / "links.md"
    path.write_text(
        '---\ntitle: "Links"\nnumber: 3\n---\n'
        f"## [Fine]({sites.http}/ok)\n- x\n## [Missing]({sites.http}/missing)\n- x\n",
        encoding="utf-8",
    )
    base = serve_app(create_app(path, load_settings(), link_timeout=5))
    with httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/api/links").status_code == 405  # it uses the network: POST only
        answer = http.post("/api/links").json()
    assert answer["links"] == 2 and answer["urls"] == 2
    (problem,) = answer["problems"]
    assert (problem["line"], problem["severity"]) == (7, "error")
    assert "HTTP 404" in problem["message"]
