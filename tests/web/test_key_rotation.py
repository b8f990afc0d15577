"""Rotating `secret_key`: links in mail already sent keep working while their key is in
`old_secret_keys`, new links are signed with the new key, and a dropped key's links stop.

A real campaign and a real test copy are sent through the SES stub with the first key; the
app is then built from the settings as `serve` builds it, called in-process. SQLite only:
which key signed a link does not depend on the backend."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from pipeline.audience.tokens import make_confirm_token, verify_confirm_token
from pipeline.db import Store
from pipeline.errors import InputError
from pipeline.settings import SecretKey, load_settings
from pipeline.web.app import create_app
from tests.support import db
from tests.support.cli import TEST_SECRET
from tests.support.sending import ISSUE, make_list, ok, people, send
from tests.support.ses_stub import SesStub

pytestmark = pytest.mark.single_backend

NEW_KEY = "the-new-key-after-the-leak-0123456789"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def _https_link(header: str) -> str:
    (url,) = [part.strip(" <>") for part in header.split(",") if "https://" in part]
    return urlsplit(url).path


@pytest.fixture
def old_links(project: Path, cli, stub: SesStub) -> dict[str, str]:
    """The unsubscribe paths of mail sent with the first key: a reader's copy of the
    campaign and a test copy."""
    make_list(cli, "weekly", people(2))
    ok(send(cli))
    ok(cli("send-test", ISSUE, "--to", "tester@example.com"))
    links = {
        m.recipient_addresses[0]: _https_link(m.headers["List-Unsubscribe"]) for m in stub.accepted
    }
    return {"reader": links["reader000@example.com"], "test copy": links["tester@example.com"]}


@pytest.fixture
def app_with(
    project: Path, monkeypatch: pytest.MonkeyPatch, asgi_client: Callable[..., httpx.Client]
) -> Callable[..., httpx.Client]:
    """The app as `serve` would build it after the settings changed to these keys."""
    stores: list[Store] = []

    def start(*, old: list[str]) -> httpx.Client:
        monkeypatch.setenv("NEWSLETTER_SECRET_KEY", NEW_KEY)
        monkeypatch.setenv("NEWSLETTER_OLD_SECRET_KEYS", json.dumps(old))
        stores.append(Store.open(os.environ["NEWSLETTER_DATABASE_URL"]))
        return asgi_client(create_app(load_settings(), stores[-1], issues=project / "issues"))

    yield start
    for store in stores:
        store.close()


def _membership(email: str) -> str:
    return str(
        db.one(
            "SELECT m.status FROM memberships m JOIN subscribers s ON s.id = m.subscriber_id "
            "WHERE s.email = ?",
            email,
        )
    )


def test_links_sent_before_a_rotation_work_while_their_key_is_old_and_stop_once_dropped(
    old_links: dict[str, str], app_with: Callable[..., httpx.Client], cli
) -> None:
    # The new key alone: the links in mail already sent no longer unsubscribe anyone.
    dropped = app_with(old=[])
    assert dropped.get(old_links["reader"]).status_code == 400
    assert dropped.get(old_links["test copy"]).status_code == 400
    assert dropped.post(old_links["reader"], data=ONE_CLICK).status_code == 400
    assert _membership("reader000@example.com") == "subscribed"

    # The old key among old_secret_keys: they work again, every kind.
    client = app_with(old=[TEST_SECRET])
    page = client.get(old_links["reader"])
    assert page.status_code == 200 and "<form" in page.text
    assert client.get(old_links["test copy"]).status_code == 200
    done = client.post(old_links["reader"], data=ONE_CLICK)
    assert (done.status_code, done.text) == (200, "unsubscribed\n")
    assert _membership("reader000@example.com") == "unsubscribed"

    # New links are the new key's: the second reader's link is no longer the one they hold.
    shown = json.loads(ok(cli("subscribers", "show", "reader001@example.com", "-f", "json")).stdout)
    (entry,) = shown["lists"]
    new_path = urlsplit(entry["unsubscribe_url"]).path
    assert new_path != old_links["reader"] and client.get(new_path).status_code == 200


def test_a_confirmation_link_of_an_old_key_still_confirms() -> None:
    old, new = TEST_SECRET.encode(), NEW_KEY.encode()
    now = datetime.now(UTC)
    token = make_confirm_token(old, 7, now, 3)
    link = verify_confirm_token(SecretKey(new, (old,)), token, now=now, max_age=timedelta(days=1))
    assert (link.subscriber_id, link.confirmation_id) == (7, 3)
    with pytest.raises(InputError, match="not valid"):
        verify_confirm_token(SecretKey(new), token, now=now, max_age=timedelta(days=1))
    # Signed with the key in force, never an old one: an old key dropped later breaks nothing.
    fresh = make_confirm_token(SecretKey(new, (old,)), 7, now, 3)
    assert verify_confirm_token(new, fresh, now=now, max_age=timedelta(days=1)).subscriber_id == 7


def test_config_says_how_many_old_keys_are_in_force_never_which(
    project: Path, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSLETTER_OLD_SECRET_KEYS", json.dumps(["a" * 32, "b" * 32]))
    shown = ok(cli("config")).stdout
    assert "2 in force" in shown and "a" * 32 not in shown and "b" * 32 not in shown
    monkeypatch.setenv("NEWSLETTER_OLD_SECRET_KEYS", json.dumps(["Xq7shortkey"]))
    result = cli("config")
    assert result.code != 0 and "old_secret_keys" in result.stderr
    assert "Xq7shortkey" not in result.output
