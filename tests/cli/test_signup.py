"""`newsletter form`, `newsletter signups` and `signups send`, and consent in
`subscribers show`."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import html as lxml_html

from pipeline.audience import signup
from pipeline.db import Store
from pipeline.settings import load_settings
from tests.support import db
from tests.support.cli import ok, refused
from tests.support.ses_stub import SesStub


def test_the_form_snippet_posts_to_the_public_url(project: Path, cli) -> None:
    refused(cli("form"), "no list is public")
    ok(cli("lists", "create", "weekly", "--public", "--description", "<b>매주</b>"))
    ok(cli("lists", "create", "staff"))
    snippet = ok(cli("form")).stdout
    form = lxml_html.fragment_fromstring(snippet)
    assert form.tag == "form" and form.get("method") == "post"
    assert form.get("action") == "https://weekly.example.com/subscribe"
    assert [i.get("value") for i in form.iter("input") if i.get("name") == "list"] == ["weekly"]
    email = form.get_element_by_id("signup-email")
    assert email.get("autocomplete") == "email"
    labels = {label.get("for") for label in form.iter("label")}
    assert {"signup-email", "signup-name", "signup-website", "list-0"} <= labels
    trap = form.get_element_by_id("signup-website")
    assert trap.get("tabindex") == "-1" and trap.get("autocomplete") == "off"
    assert "<b>" not in snippet and "staff" not in snippet


def test_signups_shows_and_sends_with_a_dry_run(project: Path, cli, database_url: str) -> None:
    ok(cli("lists", "create", "weekly", "--public"))
    with Store.open(database_url) as store:
        fields = {"email": ["reader@example.com"], "list": ["weekly"]}
        client = signup.Client("192.0.2.9", "browser")
        signup.receive(store, load_settings(), fields, client, now=datetime.now(UTC))
    rows = {r["what"]: r["count"] for r in json.loads(ok(cli("signups", "-f", "json")).stdout)}
    assert rows["signup requests waiting"] == 1 and rows["outbox pending"] == 0
    sent = ok(cli("signups", "send", "--dry-run"))
    assert "dry run: would handle 1 signup request(s) (1 confirmation(s) queued)" in sent.stderr
    assert "would send 1 message(s) (1 confirmation(s), 0 welcome(s)): reader@example.com" in (
        sent.stderr
    )
    assert "nothing was written" in sent.stderr
    rows = {r["what"]: r["count"] for r in json.loads(ok(cli("signups", "-f", "json")).stdout)}
    assert rows["signup requests waiting"] == 1, "the dry run handled nothing for real"
    assert db.one("SELECT count(*) FROM outbox") == 0
    assert db.one("SELECT count(*) FROM subscribers") == 0


def _waiting_signups(database_url: str, emails: list[str]) -> None:
    with Store.open(database_url) as store:
        for email in emails:
            fields = {"email": [email], "list": ["weekly"]}
            client = signup.Client("192.0.2.9", "browser")
            signup.receive(store, load_settings(), fields, client, now=datetime.now(UTC))


@pytest.mark.parametrize("queued", [False, True], ids=["requests waiting", "outbox queued"])
def test_a_dry_run_leaves_every_confirmation_to_the_real_run(
    project: Path, cli, database_url: str, stub: SesStub, queued: bool
) -> None:
    """Whether the work waits as signup requests or as outbox rows already queued, the dry
    run takes none of it: the real run after it still sends every confirmation."""
    ok(cli("lists", "create", "weekly", "--public"))
    readers = [f"reader{n}@example.com" for n in range(3)]
    _waiting_signups(database_url, readers)
    if queued:
        with Store.open(database_url) as store:
            signup.process(store, load_settings())
    before = db.rows("SELECT id, status, claimed_at FROM outbox ORDER BY id")
    dry = ok(cli("signups", "send", "--dry-run"))
    assert stub.accepted == []
    assert db.rows("SELECT id, status, claimed_at FROM outbox ORDER BY id") == before
    assert "would send 3 message(s) (3 confirmation(s), 0 welcome(s))" in dry.stderr
    assert db.one("SELECT count(*) FROM subscribers WHERE confirmation_sent_at IS NOT NULL") == (
        3 if queued else 0
    )
    real = ok(cli("signups", "send", "--rate", "1000"))
    assert "sent 3, failed 0, unknown 0" in real.stderr
    for reader in readers:
        assert len(stub.accepted_to(reader)) == 1, reader


def test_subscribers_add_records_consent(project: Path, cli) -> None:
    ok(cli("lists", "create", "weekly"))
    ok(cli("subscribers", "add", "kim@example.com", "--list", "weekly"))
    shown = json.loads(ok(cli("subscribers", "show", "kim@example.com", "-f", "json")).stdout)
    (consent,) = shown["consents"]
    assert (consent["list"], consent["method"]) == ("weekly", "command")
    assert consent["confirmed_at"] == consent["requested_at"]
    table = ok(cli("subscribers", "show", "kim@example.com")).stdout
    assert "consent:\n  weekly: command (cli) " in table
