"""A reader with lists in every state, and the web app serving their preference page over
real HTTP on 127.0.0.1 (for tests/web/test_preferences*.py).

READER is on `weekly` and `announcements` (subscribed), `events` (signed up, waiting for
confirmation) and `archive` (unsubscribed); OTHER is on `weekly` and `private`, a list the
reader is not on. Tokens are signed as the sender signs them (`make_token`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx

from pipeline.audience.subscribers import add, create_list, unsubscribe
from pipeline.audience.tokens import make_token
from pipeline.db import Store
from pipeline.feedback.sns_verify import SnsVerifier
from pipeline.settings import load_settings
from pipeline.web.app import create_app
from tests.support import db
from tests.support.cli import TEST_SECRET
from tests.support.sns_fixtures import LOOPBACK_HOSTS, TOPIC_ARN

READER = "reader@example.com"
OTHER = "other@example.com"
LISTS = ("weekly", "announcements", "events", "archive", "private")
READER_STATES = {
    "weekly": "subscribed",
    "announcements": "subscribed",
    "events": "unconfirmed",
    "archive": "unsubscribed",
}
OTHER_STATES = {"weekly": "subscribed", "private": "subscribed"}
DESCRIPTIONS = {"announcements": "New features & events, once a month"}
TABLES = ("subscribers", "memberships", "suppressions", "consents")


@dataclass
class PreferenceSite:
    base_url: str
    url: str  # the database the app serves
    client: httpx.Client
    list_ids: dict[str, int]
    subscriber_ids: dict[str, int]

    def token(self, email: str = READER, list_name: str = "weekly") -> str:
        return make_token(
            TEST_SECRET.encode(), self.subscriber_ids[email], self.list_ids[list_name]
        )

    def path(self, email: str = READER, list_name: str = "weekly") -> str:
        return f"/unsubscribe/{self.token(email, list_name)}"

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in db.rows(sql, *params, url=self.url)]

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        return {table: self.query(f"SELECT * FROM {table} ORDER BY 1, 2") for table in TABLES}

    def states(self, email: str = READER) -> dict[str, str]:
        """Every membership of `email`: list name -> status, from the database."""
        rows = self.query(
            "SELECT l.name, m.status FROM memberships m JOIN lists l ON l.id = m.list_id "
            "WHERE m.subscriber_id = ?",
            self.subscriber_ids[email],
        )
        return dict(rows)

    def status(self, email: str = READER) -> str:
        (row,) = self.query(
            "SELECT status FROM subscribers WHERE id = ?", self.subscriber_ids[email]
        )
        return str(row[0])

    def set_status(self, email: str, status: str) -> None:
        db.execute(
            "UPDATE subscribers SET status = ? WHERE id = ?",
            status,
            self.subscriber_ids[email],
            url=self.url,
        )

    def post(self, path: str | None = None, **fields: str | int) -> httpx.Response:
        data = {key.replace("_", "-"): str(value) for key, value in fields.items()}
        return self.client.post(path or self.path(), data=data)


def populate(store: Store, url: str) -> tuple[dict[str, int], dict[str, int]]:
    """The lists and the two people; returns (list ids, subscriber ids)."""
    for name in LISTS:
        create_list(store, name)
    for email, states in ((READER, READER_STATES), (OTHER, OTHER_STATES)):
        for list_name, state in states.items():
            add(store, email, list_name, name="독자")
            if state == "unsubscribed":
                unsubscribe(store, email, list_name)
    list_ids = {name: int(i) for i, name in db.rows("SELECT id, name FROM lists", url=url)}
    people = db.rows("SELECT id, email FROM subscribers", url=url)
    subscriber_ids = {email: int(i) for i, email in people}
    # A signup waiting for its link (what the signup form records), and a description.
    db.execute(
        "UPDATE memberships SET status = 'unconfirmed' WHERE subscriber_id = ? AND list_id = ?",
        subscriber_ids[READER],
        list_ids["events"],
        url=url,
    )
    for name, text in DESCRIPTIONS.items():
        db.execute("UPDATE lists SET description = ? WHERE name = ?", text, name, url=url)
    return list_ids, subscriber_ids


@contextmanager
def preference_site(project: Path, serve: Any, **settings: Any) -> Iterator[PreferenceSite]:
    """The app over the test's database: `serve` is `serve_app` (a real socket, for a
    browser) or `asgi_client` (in-process)."""
    url = os.environ["NEWSLETTER_DATABASE_URL"]
    store = Store.open(url)
    try:
        list_ids, subscriber_ids = populate(store, url)
        verifier = SnsVerifier([TOPIC_ARN], cert_host_pattern=LOOPBACK_HOSTS)
        app = create_app(
            load_settings(**settings), store, issues=project / "issues", verifier=verifier
        )
        served = serve(app)
        if isinstance(served, str):
            served = httpx.Client(base_url=served, follow_redirects=False, timeout=10)
        with served as client:
            yield PreferenceSite(
                str(client.base_url).rstrip("/"), url, client, list_ids, subscriber_ids
            )
    finally:
        store.close()


# --- reading the page ----------------------------------------------------------------------


class _Table(HTMLParser):
    """The rows of the page's table: [list cell text, state cell text (without the button's
    label), forms of the row as (action, list id, button label, accessible name)]."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[Any]] = []
        self._cell: list[str] | None = None
        self._in_body = False
        self._button: dict[str, str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        if tag == "tbody":
            self._in_body = True
        elif not self._in_body:
            return
        elif tag == "tr":
            self.rows.append(["", "", []])
        elif tag in ("th", "td"):
            self._cell = []
        elif tag == "form":
            self.rows[-1][2].append({})
        elif tag == "input":
            self.rows[-1][2][-1][attributes.get("name", "")] = attributes.get("value", "")
        elif tag == "button":
            self._button = self.rows[-1][2][-1]
            self._button |= {"aria-label": attributes.get("aria-label", ""), "label": ""}

    def handle_data(self, data: str) -> None:
        if self._button is not None:
            self._button["label"] += data
        elif self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "tbody":
            self._in_body = False
            for row in self.rows:
                row[2] = [
                    (f.get("action"), f.get("list"), f.get("label"), f.get("aria-label"))
                    for f in row[2]
                ]
        elif tag == "button":
            self._button = None
        elif self._in_body and tag in ("th", "td") and self._cell is not None:
            self.rows[-1][0 if tag == "th" else 1] = " ".join(" ".join(self._cell).split())
            self._cell = None


def table(page: str) -> list[list[Any]]:
    parser = _Table()
    parser.feed(page)
    return parser.rows


def forms_outside_table(page: str) -> list[str]:
    """The actions of the page's forms outside its table (the leave-all form)."""
    outside = re.sub(r"<table.*?</table>", "", page, flags=re.S)
    return re.findall(r'name="action" value="([^"]+)"', outside)
