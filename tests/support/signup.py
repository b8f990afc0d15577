"""What the signup tests share: public lists, the web app served on 127.0.0.1 over the
test's database, the SES stub as the mail service (its default account: bind
`ses_stub_options = signup.ses_stub_options` in a test module), and the processor run on demand."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from pipeline.db import Store
from pipeline.delivery import outbox
from pipeline.delivery.pacing import Pace
from pipeline.delivery.transports.ses import SesTransport
from pipeline.settings import Settings, load_settings
from pipeline.web.app import create_app
from tests.support import db
from tests.support.cli import run_cli
from tests.support.sending import ok
from tests.support.ses_stub import AcceptedMessage, SesStub

PUBLIC_URL = "https://weekly.example.com"
_CONFIRM_LINK = re.compile(r"https://weekly\.example\.com/confirm/[A-Za-z0-9_-]+")

WELCOME = """---
title: "Article Weekly에 오신 것을 환영합니다"
number: 900
subject: "환영합니다: Article Weekly"
---
구독해 주셔서 고맙습니다. 매주 토요일에 한 호씩 보내 드립니다.

## [지난 호 모아 보기](https://weekly.example.com/issues/25)
- 지난 호는 웹에서 읽을 수 있습니다.
"""


@pytest.fixture
def ses_stub_options() -> dict[str, Any]:
    """The shared `stub` fixture with the stub's default account."""
    return {}


def make_public_lists() -> None:
    ok(run_cli("lists", "create", "weekly", "--public", "--description", "매주 토요일 아침"))
    ok(run_cli("lists", "create", "announcements", "--public"))
    ok(run_cli("lists", "create", "staff"))  # private: never offered


def write_welcome(folder: Path) -> Path:
    path = folder / "welcome" / "welcome.md"
    path.parent.mkdir(exist_ok=True)
    path.write_text(WELCOME, encoding="utf-8")
    return path


@dataclass
class SignupSite:
    base_url: str
    store: Store
    settings: Settings
    stub: SesStub

    def post(
        self, email: str, *lists: str, name: str | None = None, **extra: str
    ) -> httpx.Response:
        fields: dict[str, str | list[str]] = {"email": email, "list": list(lists), **extra}
        if name is not None:
            fields["name"] = name
        return httpx.post(
            f"{self.base_url}/subscribe", data=fields, headers={"User-Agent": "SignupTest/1.0"}
        )

    def run(self) -> outbox.Sent:
        """One pass of the background loop: the signup inbox, then the outbox."""
        transport = SesTransport()
        return outbox.run_once(self.store, self.settings, transport, pace=Pace(1000))

    def local(self, link: str) -> str:
        parts = urlsplit(link)
        assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL, link
        return self.base_url + parts.path

    def messages_to(self, email: str) -> list[AcceptedMessage]:
        return self.stub.accepted_to(email)

    def confirmation_link(self, email: str) -> str:
        """The link in the newest confirmation the stub received for `email`, made local."""
        found = [m for m in self.messages_to(email) if m.text and "/confirm/" in m.text]
        assert found, f"no confirmation reached {email}"
        assert found[-1].text is not None
        links = set(_CONFIRM_LINK.findall(found[-1].text))
        assert len(links) == 1, links
        return self.local(links.pop())

    def membership(self, email: str, list_name: str = "weekly") -> str | None:
        return db.one(
            "SELECT m.status FROM memberships m JOIN subscribers s ON s.id = m.subscriber_id "
            "JOIN lists l ON l.id = m.list_id WHERE s.email_key = ? AND l.name = ?",
            email.lower(),
            list_name,
        )

    def count(self, table: str) -> int:
        return int(db.one(f"SELECT count(*) FROM {table}"))

    def outbox(self) -> list[tuple[Any, ...]]:
        return [
            tuple(r)
            for r in db.rows("SELECT kind, email, status, message_id FROM outbox ORDER BY id")
        ]


def start_site(serve_app: Callable[[Any], str], stub: SesStub, **overrides: Any) -> SignupSite:
    """The web app over the test's database (NEWSLETTER_DATABASE_URL), with settings
    `overrides`; the caller has pointed boto3 at `stub` (sending.use_ses)."""
    settings = load_settings(**overrides)
    store = Store.open(os.environ["NEWSLETTER_DATABASE_URL"])
    app = create_app(settings, store, issues=Path("issues"))
    return SignupSite(serve_app(app), store, settings, stub)
